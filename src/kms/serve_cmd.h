/* SPDX-License-Identifier: Apache-2.0 */
/* `cloister-kms serve` (serve_cmd.c). */
#ifndef CLOISTER_KMS_SERVE_CMD_H
#define CLOISTER_KMS_SERVE_CMD_H

/* argv[0] is "serve"; returns the exit status. */
int kms_serve_main(int argc, char **argv);

#endif
