/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cloister-kms explain`: evaluates a key policy for one request offline and
 * prints which statement decided and why (docs/kms-policy.md, "Explain");
 * cloister-kms's main dispatches argv[0] == "explain" here.
 */
#ifndef CLOISTER_KMS_EXPLAIN_CMD_H
#define CLOISTER_KMS_EXPLAIN_CMD_H

/*
 * argv[0] is "explain". Prints the JSON trace of policy_explain() on stdout.
 * Exit status: 0 allowed, 1 denied (explicitly or implicitly), 2 usage or
 * input error (one line on stderr).
 */
int kms_explain_main(int argc, char **argv);

#endif
