/* SPDX-License-Identifier: Apache-2.0 */
/* cloister-monitor: one per enclave, started by `cloister run-enclave` (rt_monitor.h). */
#include "rt_monitor.h"

int main(int argc, char **argv)
{
    return rt_monitor_main(argc, argv);
}
