/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The AWS Nitro Enclaves root G1 (C=US, O=Amazon, OU=AWS,
 * CN=aws.nitro-enclaves; P-384; 2019-10-28 to 2049-10-28), from
 * https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip
 * (aws-nitro-enclaves-nsm-api docs/attestation_process.md §3.2.3.1).
 * SHA-256 of the DER:
 * 641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b
 * (ATTEST_AWS_ROOT_G1_SHA256, checked by
 * tests/unit/attest/attest_aws_root_test.c and attest_verify_test.c).
 * Used only when a caller asks for it (attest_verifier_add_aws_root).
 */
#include <cloister/attestation.h>

static const char aws_root_g1_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL\n"
    "MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD\n"
    "VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4\n"
    "MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL\n"
    "DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG\n"
    "BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb\n"
    "48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE\n"
    "h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF\n"
    "R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC\n"
    "MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW\n"
    "rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N\n"
    "IwLz3/Y=\n"
    "-----END CERTIFICATE-----\n"
    "\n"
    ;

const char *attest_aws_root_g1_pem(void)
{
    return aws_root_g1_pem;
}
