/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A vsock program as the world writes them: libc's socket(AF_VSOCK, ...)
 * and struct sockaddr_vm, no Cloister library, linked statically (so no
 * LD_PRELOAD could reach it). Run inside an enclave by the integration
 * tests (test_runtime_static.py).
 *
 *   vsock_plain PARENT_PORT LISTEN_PORT
 *     asks its CID of /dev/vsock (IOCTL_VM_SOCKETS_GET_LOCAL_CID), connects
 *     to the parent (3, PARENT_PORT) and sends "static <cid>", then listens
 *     on LISTEN_PORT and answers each connection's line with
 *     "static-echo <line>", forever.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what)
{
    printf("vsock_plain: %s: %s\n", what, strerror(errno));
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    unsigned int cid = 0;
    int dev = open("/dev/vsock", O_RDONLY);
    if (dev < 0 || ioctl(dev, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0)
        die("IOCTL_VM_SOCKETS_GET_LOCAL_CID");
    close(dev);

    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = 3,
                              .svm_port = (unsigned)atoi(argv[1]) };
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect to the parent");
    char line[128];
    int n = snprintf(line, sizeof(line), "static %u", cid);
    if (write(s, line, (size_t)n) != n)
        die("write");
    close(s);

    int l = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_vm me = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
                              .svm_port = (unsigned)atoi(argv[2]) };
    if (l < 0 || bind(l, (struct sockaddr *)&me, sizeof(me)) < 0 || listen(l, 8) < 0)
        die("listen");
    printf("vsock_plain: cid %u listening on %s\n", cid, argv[2]);
    fflush(stdout);
    for (;;) {
        struct sockaddr_vm peer;
        socklen_t plen = sizeof(peer);
        int c = accept(l, (struct sockaddr *)&peer, &plen);
        if (c < 0)
            die("accept");
        char buf[100];
        ssize_t r = read(c, buf, sizeof(buf) - 1);
        if (r > 0) {
            buf[r] = '\0';
            n = snprintf(line, sizeof(line), "static-echo %s from %u", buf, peer.svm_cid);
            if (write(c, line, (size_t)n) < 0)
                die("write");
        }
        close(c);
    }
}
