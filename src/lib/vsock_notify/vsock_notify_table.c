/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The supervisor's table of emulated sockets (vsock_notify_table.h).
 *
 * An entry lives as long as its socket, which the supervisor does not hold:
 * holding a reference would keep a connection open after the program closed
 * it. So the table learns of closed sockets from the kernel's list of live
 * Unix sockets, /proc/thread-self/net/unix, which lists the sockets of one
 * network namespace. The table's sockets come from several: those the
 * supervisor made (its own namespace) and connections made by the other side
 * (the parent's, or an enclave's). Each entry keeps the namespace its socket
 * belongs to (SIOCGSKNS) and pruning visits each of them with setns; a
 * namespace the supervisor may not enter (setns needs CAP_SYS_ADMIN) keeps
 * its entries.
 */
#include "vsock_notify/vsock_notify_table.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <sched.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NAMESPACES 64

struct node {
    uint64_t ino;
    uint64_t ns;             /* the socket's network namespace (inode), 0 if unknown */
    struct vcore_entry e;
};

struct netns {
    uint64_t ino;
    int fd;
};

struct vn_table {
    void *root;              /* tsearch tree of struct node, by ino */
    size_t count, prune_at;
    struct netns ns[MAX_NAMESPACES];
    size_t nns;
    uint64_t own_ns;         /* the supervisor's namespace, once known */
};

static int by_ino(const void *a, const void *b)
{
    uint64_t x = ((const struct node *)a)->ino, y = ((const struct node *)b)->ino;
    return x < y ? -1 : x > y;
}

struct vn_table *vn_table_new(void)
{
    struct vn_table *t = calloc(1, sizeof(*t));
    if (t)
        t->prune_at = 256;
    return t;
}

struct vcore_entry *vn_table_get(struct vn_table *t, uint64_t ino)
{
    struct node key = { .ino = ino };
    void *p = tfind(&key, &t->root, by_ino);
    return p ? &(*(struct node **)p)->e : NULL;
}

/* The network namespace of sock (an inode number; 0 if it cannot be had),
 * kept open for pruning. */
static uint64_t remember_netns(struct vn_table *t, int sock, bool own)
{
    if (own && t->own_ns)
        return t->own_ns;   /* the supervisor made it: its own namespace */
    int nsfd = ioctl(sock, SIOCGSKNS);
    if (nsfd < 0)
        return 0;
    struct stat st;
    if (fstat(nsfd, &st) < 0) {
        close(nsfd);
        return 0;
    }
    for (size_t i = 0; i < t->nns; i++)
        if (t->ns[i].ino == (uint64_t)st.st_ino) {
            close(nsfd);
            return st.st_ino;
        }
    if (t->nns == MAX_NAMESPACES) {
        close(nsfd);
        return 0;   /* never pruned: see the header */
    }
    fcntl(nsfd, F_SETFD, FD_CLOEXEC);
    t->ns[t->nns++] = (struct netns){ st.st_ino, nsfd };
    if (own)
        t->own_ns = st.st_ino;
    return st.st_ino;
}

int vn_table_put(struct vn_table *t, int sock, bool own, const struct vcore_entry *e)
{
    struct stat st;
    if (fstat(sock, &st) < 0)
        return -errno;
    uint64_t ino = st.st_ino;
    struct vcore_entry *old = vn_table_get(t, ino);
    if (old) {
        *old = *e;
        return 0;
    }
    struct node *n = malloc(sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->ino = ino;
    n->e = *e;
    n->ns = remember_netns(t, sock, own);
    if (!tsearch(n, &t->root, by_ino)) {
        free(n);
        return -ENOMEM;
    }
    t->count++;
    return 0;
}

void vn_table_del(struct vn_table *t, uint64_t ino)
{
    struct node key = { .ino = ino };
    void *p = tfind(&key, &t->root, by_ino);
    if (!p)
        return;
    struct node *n = *(struct node **)p;
    tdelete(&key, &t->root, by_ino);
    free(n);
    t->count--;
}

/* ---- pruning -------------------------------------------------------------- */

struct inos {
    uint64_t *v;
    size_t n, cap;
};

static int add_ino(struct inos *s, uint64_t ino)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v, s->cap = cap;
    }
    s->v[s->n++] = ino;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Adds the inodes of the live Unix sockets of this thread's namespace. */
static int read_live(struct inos *s)
{
    FILE *f = fopen("/proc/thread-self/net/unix", "re");
    if (!f)
        return -errno;
    char line[512];
    int rc = 0;
    if (!fgets(line, sizeof(line), f))   /* the header */
        rc = -EIO;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        /* Num RefCount Protocol Flags Type St Inode [Path] */
        unsigned long long ino;
        if (sscanf(line, "%*s %*s %*s %*s %*s %*s %llu", &ino) == 1)
            rc = add_ino(s, ino);
    }
    fclose(f);
    return rc;
}

struct prune_walk {
    struct vn_table *t;
    const struct inos *live;
    const bool *visited;     /* per namespace index */
    struct inos dead;
    int failed;
};

static bool visited_ns(const struct prune_walk *w, uint64_t ns)
{
    for (size_t i = 0; i < w->t->nns; i++)
        if (w->t->ns[i].ino == ns)
            return w->visited[i];
    return false;
}

static void collect_dead(const void *nodep, VISIT which, void *arg)
{
    if (which != postorder && which != leaf)
        return;
    struct prune_walk *w = arg;
    const struct node *n = *(const struct node *const *)nodep;
    if (!n->ns || !visited_ns(w, n->ns))
        return;   /* its namespace could not be listed: keep it */
    if (bsearch(&n->ino, w->live->v, w->live->n, sizeof(uint64_t), cmp_u64))
        return;
    if (add_ino(&w->dead, n->ino) < 0)
        w->failed = 1;
}

/* Which namespaces some entry still uses. */
static void mark_used(const void *nodep, VISIT which, void *arg)
{
    if (which != postorder && which != leaf)
        return;
    struct prune_walk *w = arg;
    const struct node *n = *(const struct node *const *)nodep;
    for (size_t i = 0; i < w->t->nns; i++)
        if (w->t->ns[i].ino == n->ns)
            ((bool *)w->visited)[i] = true;
}

void vn_table_prune(struct vn_table *t, bool force)
{
    if (!force && t->count < t->prune_at)
        return;
    struct inos live = { 0 };
    bool visited[MAX_NAMESPACES] = { false };
    int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    for (size_t i = 0; i < t->nns && own >= 0; i++) {
        if (setns(t->ns[i].fd, CLONE_NEWNET) < 0)
            continue;
        visited[i] = read_live(&live) == 0;
        if (setns(own, CLONE_NEWNET) < 0)
            abort();   /* the supervisor's sockets would be made elsewhere */
    }
    if (own >= 0)
        close(own);
    qsort(live.v, live.n, sizeof(uint64_t), cmp_u64);
    struct prune_walk w = { .t = t, .live = &live, .visited = visited };
    twalk_r(t->root, collect_dead, &w);
    for (size_t i = 0; i < w.dead.n; i++) {
        struct vcore_entry *e = vn_table_get(t, w.dead.v[i]);
        if (e)
            vcore_remove_listener_file(e);
        vn_table_del(t, w.dead.v[i]);
    }
    /* Namespaces no entry uses any more are let go. */
    bool used[MAX_NAMESPACES] = { false };
    w.visited = used;
    twalk_r(t->root, mark_used, &w);
    size_t k = 0;
    for (size_t i = 0; i < t->nns; i++) {
        if (used[i])
            t->ns[k++] = t->ns[i];
        else
            close(t->ns[i].fd);
    }
    t->nns = k;
    free(live.v);
    free(w.dead.v);
    t->prune_at = t->count * 2 > 256 ? t->count * 2 : 256;
}


void vn_table_free(struct vn_table *t)
{
    if (!t)
        return;
    tdestroy(t->root, free);
    for (size_t i = 0; i < t->nns; i++)
        close(t->ns[i].fd);
    free(t);
}
