/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file tree of an enclave image, held in memory: metadata only, with
 * each regular file's bytes left where they are (a file under a --rootfs
 * directory, a region of an unlinked spool file for tar layers, or a
 * caller's buffer). Image sources (image.h, image_layer.h) fill a tree;
 * the ramdisk writer (ramdisk.h) lists it in sorted order and streams each
 * file's content into the cpio archive, so nothing big is ever held in
 * memory.
 *
 * Paths are relative to the tree's root, '/'-separated, without "." or ".."
 * components, and never start with '/'. Names are at most 255 bytes and
 * paths at most 4095 bytes (Linux's NAME_MAX / PATH_MAX).
 */
#ifndef CLOISTER_IMAGE_TREE_H
#define CLOISTER_IMAGE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cloister/error.h>

#define IMAGE_NAME_MAX    255
#define IMAGE_PATH_MAX    4095
#define IMAGE_SYMLINK_MAX 4095
/* How many symbolic links one path lookup may follow (Linux's MAXSYMLINKS). */
#define IMAGE_MAX_SYMLINK_FOLLOW 40

enum image_node_type {
    IMAGE_DIR = 1,
    IMAGE_REG,
    IMAGE_SYMLINK,
    IMAGE_FIFO,
    IMAGE_CHR, /* character device */
    IMAGE_BLK, /* block device */
};

/* What an inode says of a file besides its type and data, as a tar header
 * or lstat() gives it. */
struct image_attrs {
    uint32_t mode; /* permission bits with setuid, setgid and sticky (07777) */
    uint32_t uid, gid;
    int64_t mtime;                   /* seconds since the epoch */
    uint32_t rdev_major, rdev_minor; /* IMAGE_CHR, IMAGE_BLK */
};

/* Where a regular file's bytes are. */
enum image_content_kind {
    IMAGE_CONTENT_HOST = 1, /* a file on the host: path relative to a root dirfd, or absolute */
    IMAGE_CONTENT_SPOOL,    /* a region of the tree's spool file */
    IMAGE_CONTENT_MEMORY,   /* a buffer owned by the content */
};

/*
 * A regular file's bytes, shared by the hard links to it (refs counts the
 * nodes that use it; the ramdisk writer emits nodes sharing a content as a
 * hard-link group).
 */
struct image_content {
    enum image_content_kind kind;
    uint64_t size;
    unsigned refs;
    struct image_attrs attrs; /* the inode's: set by the last node given this content */
    bool host_relative;    /* HOST: host_path is relative to the tree's host root */
    char *host_path;       /* HOST: owned */
    uint64_t spool_offset; /* SPOOL */
    uint8_t *data;         /* MEMORY: owned */
};

struct image_node {
    char *name; /* owned; "" for the root */
    enum image_node_type type;
    struct image_attrs attrs;      /* a regular file's are its content's: image_node_attrs() */
    char *symlink;                 /* SYMLINK: target, owned */
    struct image_content *content; /* REG: shared, refcounted */
    unsigned layer;                /* the layer that last wrote the node (whiteouts) */
    struct image_node *parent;
    struct image_node **children; /* DIR: owned, unsorted */
    size_t nchildren, cap;
};

struct image_tree;

/*
 * A new tree whose root is a directory (mode 0755). spool_dir: where an
 * unlinked spool file for layer contents is created when first needed
 * (NULL: $TMPDIR, else /tmp). *out owned by the caller: image_tree_free().
 */
CL_MUST_USE int image_tree_new(const char *spool_dir, struct image_tree **out,
                               struct cl_error *err);
void image_tree_free(struct image_tree *t);

struct image_node *image_tree_root(struct image_tree *t);

/* Child of dir by name, or NULL. */
struct image_node *image_node_child(const struct image_node *dir, const char *name);

/*
 * Creates (or replaces) the child `name` of dir with attributes a (mode
 * masked to 07777). An existing directory stays in place when the new node
 * is a directory too (its attributes and layer are updated, its children
 * kept, as a tar layer does); anything else existing is removed first. The
 * new node has no content: the caller sets symlink/content. Returns NULL
 * and fills err on failure (CL_ENOMEM).
 */
struct image_node *image_node_put(struct image_tree *t, struct image_node *dir, const char *name,
                                  enum image_node_type type, const struct image_attrs *a,
                                  unsigned layer, struct cl_error *err);

/*
 * A node's attributes: for a regular file its content's, since hard links
 * share one inode (a tar entry that links to a file sets the attributes of
 * every name of it, as extracting it does).
 */
const struct image_attrs *image_node_attrs(const struct image_node *n);

/* Removes node (and its subtree) from its parent and frees it. */
void image_node_remove(struct image_tree *t, struct image_node *node);

/* Removes every descendant of dir written by a layer below `layer`
 * (an opaque whiteout, OCI image-spec layer.md). */
void image_node_prune_below(struct image_tree *t, struct image_node *dir, unsigned layer);

/*
 * The directory that relative host contents are opened from (a --rootfs
 * directory). The tree takes ownership of dirfd (closed by image_tree_free).
 */
void image_tree_set_host_root(struct image_tree *t, int dirfd);

/* New contents (refs = 0; image_node_set_content takes a reference).
 * A host content with relative = true is opened below the tree's host root
 * without following symbolic links; an absolute one (a blob) is opened as is. */
CL_MUST_USE int image_content_new_host(const char *path, bool relative, uint64_t size,
                                       struct image_content **out, struct cl_error *err);
CL_MUST_USE int image_content_new_memory(const void *data, size_t len, struct image_content **out,
                                         struct cl_error *err);
/* Copies exactly `size` bytes from `read` (a callback filling buf, returning the
 * count, 0 at end, <0 on error with err filled) to the end of the spool. */
typedef ssize_t (*image_read_fn)(void *ctx, void *buf, size_t len, struct cl_error *err);
CL_MUST_USE int image_content_new_spool(struct image_tree *t, image_read_fn read, void *ctx,
                                        uint64_t size, struct image_content **out,
                                        struct cl_error *err);
/* Gives node the content c (a reference taken) and c the node's attributes. */
void image_node_set_content(struct image_node *node, struct image_content *c);
/* Frees a content nobody took (refs == 0). */
void image_content_discard(struct image_content *c);

/*
 * Visits every node but the root in the order of Go's filepath.Walk, the
 * order `docker export` lists a filesystem in: a directory, then each of its
 * children by name in byte order, depth first. path is relative, without a
 * trailing '/', valid during the call. fn returns 0 to go on or a negative
 * CL_E* code to stop the walk with it.
 */
typedef int (*image_visit_fn)(void *ctx, const char *path, const struct image_node *n,
                              struct cl_error *err);
CL_MUST_USE int image_tree_walk(const struct image_tree *t, image_visit_fn fn, void *ctx,
                                struct cl_error *err);

/*
 * Streams a content's bytes to fn in chunks. A host file is opened without
 * following any symbolic link below its root and must still be a regular
 * file of the recorded size (else CL_ESTATE "changed while building").
 */
typedef int (*image_write_fn)(void *ctx, const void *buf, size_t len, struct cl_error *err);
CL_MUST_USE int image_content_stream(const struct image_tree *t, const struct image_content *c,
                                     image_write_fn fn, void *ctx, struct cl_error *err);

/* Counts nodes of the tree, the root excluded (tests, limits). */
size_t image_tree_count(const struct image_tree *t);

#endif
