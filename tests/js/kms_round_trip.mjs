// SPDX-License-Identifier: Apache-2.0
// The AWS SDK for JavaScript v3 (@aws-sdk/client-kms) against cloister-kms:
// an HMAC round trip, and a grant round trip when a grantee is named. Run by
// tests/integration/test_kms_js.py with a JSON object on stdin:
//   {endpoint, region, ca, admin: [akid, secret], grantee?: {arn, creds: [akid, secret]}}
// Prints one JSON object of what each step answered; the test checks it.
import { readFileSync } from "node:fs";
import https from "node:https";
import {
  KMSClient, CreateKeyCommand, GenerateMacCommand, VerifyMacCommand, CreateGrantCommand,
  ListGrantsCommand, EncryptCommand, DecryptCommand, RetireGrantCommand, RevokeGrantCommand,
  ListRetirableGrantsCommand,
} from "@aws-sdk/client-kms";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const args = JSON.parse(readFileSync(0, "utf8"));
const agent = new https.Agent({ ca: readFileSync(args.ca) });

function client([accessKeyId, secretAccessKey]) {
  return new KMSClient({
    endpoint: args.endpoint, region: args.region, maxAttempts: 1,
    credentials: { accessKeyId, secretAccessKey },
    requestHandler: new NodeHttpHandler({ httpsAgent: agent }),
  });
}

async function failure(promise) {
  try {
    await promise;
    return "no error";
  } catch (e) {
    return e.name;
  }
}

const kms = client(args.admin);
const out = {};
const message = new TextEncoder().encode("hmac over the JS SDK");

const hmacKey = (await kms.send(new CreateKeyCommand({
  KeySpec: "HMAC_384", KeyUsage: "GENERATE_VERIFY_MAC" }))).KeyMetadata;
out.macAlgorithms = hmacKey.MacAlgorithms;
const mac = await kms.send(new GenerateMacCommand({
  KeyId: hmacKey.KeyId, Message: message, MacAlgorithm: "HMAC_SHA_384" }));
out.mac = Buffer.from(mac.Mac).toString("base64");
out.macKeyId = mac.KeyId;
out.macValid = (await kms.send(new VerifyMacCommand({
  KeyId: hmacKey.KeyId, Message: message, Mac: mac.Mac, MacAlgorithm: "HMAC_SHA_384" }))).MacValid;
const forged = Uint8Array.from(mac.Mac);
forged[0] ^= 1;
out.forged = await failure(kms.send(new VerifyMacCommand({
  KeyId: hmacKey.KeyId, Message: message, Mac: forged, MacAlgorithm: "HMAC_SHA_384" })));

if (args.grantee) {
  const grantee = client(args.grantee.creds);
  const key = (await kms.send(new CreateKeyCommand({}))).KeyMetadata.KeyId;
  out.before = await failure(grantee.send(new EncryptCommand({ KeyId: key, Plaintext: message })));
  const grant = await kms.send(new CreateGrantCommand({
    KeyId: key, GranteePrincipal: args.grantee.arn, RetiringPrincipal: args.grantee.arn,
    Operations: ["Encrypt", "Decrypt"], Constraints: { EncryptionContextSubset: { app: "js" } } }));
  out.grantId = grant.GrantId;
  const ct = await grantee.send(new EncryptCommand({
    KeyId: key, Plaintext: message, EncryptionContext: { app: "js" },
    GrantTokens: [grant.GrantToken] }));
  const pt = await grantee.send(new DecryptCommand({
    CiphertextBlob: ct.CiphertextBlob, EncryptionContext: { app: "js" } }));
  out.roundTrip = new TextDecoder().decode(pt.Plaintext) === "hmac over the JS SDK";
  out.unconstrained = await failure(grantee.send(new EncryptCommand({
    KeyId: key, Plaintext: message })));
  out.listed = (await kms.send(new ListGrantsCommand({ KeyId: key }))).Grants.map((g) => g.GrantId);
  out.retirable = (await kms.send(new ListRetirableGrantsCommand({
    RetiringPrincipal: args.grantee.arn }))).Grants.map((g) => g.GrantId);
  await grantee.send(new RetireGrantCommand({ KeyId: key, GrantId: grant.GrantId }));
  out.afterRetire = await failure(grantee.send(new EncryptCommand({
    KeyId: key, Plaintext: message, EncryptionContext: { app: "js" } })));
  const second = await kms.send(new CreateGrantCommand({
    KeyId: key, GranteePrincipal: args.grantee.arn, Operations: ["Encrypt"] }));
  await kms.send(new RevokeGrantCommand({ KeyId: key, GrantId: second.GrantId }));
  out.afterRevoke = await failure(grantee.send(new EncryptCommand({ KeyId: key, Plaintext: message })));
}
console.log(JSON.stringify(out));
