/* File-system helpers: path joining, directory creation, copying a flat directory of files,
 * removing a tree (used to undo a half-made data directory). */
#ifndef CDP_UTIL_FS_H
#define CDP_UTIL_FS_H

#include <stddef.h>

#include "util/err.h"

/* Writes "a/b" into out; CDP_MISUSE when it does not fit. */
cdp_status cdp_path_join(char *out, size_t cap, const char *a, const char *b, cdp_err *err);
/* mkdir with mode; CDP_EXISTS if present, CDP_IO otherwise. */
cdp_status cdp_mkdir(const char *path, int mode, cdp_err *err);
/* Copies every regular file ending in suffix from src to dst (not recursive), fsynced. */
cdp_status cdp_copy_files(const char *src, const char *dst, const char *suffix, cdp_err *err);
/* rm -rf; best effort. */
void cdp_remove_tree(const char *path);
/* Sum of the sizes of the regular files below path. */
unsigned long long cdp_tree_size(const char *path);

#endif
