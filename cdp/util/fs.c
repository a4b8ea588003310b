/* Paths, directories and file copies for data-directory set-up. */
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util/alloc.h"
#include "util/bytes.h"

cdp_status cdp_path_join(char *out, size_t cap, const char *a, const char *b, cdp_err *err) {
    int n = snprintf(out, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap)
        return cdp_err_set(err, CDP_MISUSE, "path too long: %s/%s", a, b);
    return CDP_OK;
}

cdp_status cdp_mkdir(const char *path, int mode, cdp_err *err) {
    if (mkdir(path, (mode_t)mode) == 0)
        return CDP_OK;
    if (errno == EEXIST)
        return cdp_err_set(err, CDP_EXISTS, "%s: already exists", path);
    return cdp_err_set(err, CDP_IO, "%s: %s", path, strerror(errno));
}

cdp_status cdp_copy_files(const char *src, const char *dst, const char *suffix, cdp_err *err) {
    DIR *dir = opendir(src);
    if (dir == NULL)
        return cdp_err_set(err, errno == ENOENT ? CDP_NOT_FOUND : CDP_IO, "%s: %s", src,
                           strerror(errno));
    cdp_status status = CDP_OK;
    struct dirent *entry;
    size_t suffix_len = strlen(suffix);
    while (status == CDP_OK && (entry = readdir(dir)) != NULL) {
        size_t len = strlen(entry->d_name);
        if (entry->d_name[0] == '.' || len < suffix_len ||
            strcmp(entry->d_name + len - suffix_len, suffix) != 0)
            continue;
        char from[4096], to[4096];
        struct stat info;
        status = cdp_path_join(from, sizeof from, src, entry->d_name, err);
        if (status == CDP_OK)
            status = cdp_path_join(to, sizeof to, dst, entry->d_name, err);
        if (status != CDP_OK || stat(from, &info) != 0 || !S_ISREG(info.st_mode))
            continue;
        uint8_t *bytes = NULL;
        size_t bytes_len = 0;
        status = cdp_file_read(from, 16u << 20, &bytes, &bytes_len, err);
        if (status == CDP_OK)
            status = cdp_file_write_atomic(to, bytes, bytes_len, 0644, err);
        cdp_free(bytes);
    }
    closedir(dir);
    return status;
}

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *ftw) {
    (void)info;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void cdp_remove_tree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static _Thread_local unsigned long long tree_total; /* nftw has no user pointer */
static int add_size(const char *path, const struct stat *info, int flag, struct FTW *ftw) {
    (void)path;
    (void)ftw;
    if (flag == FTW_F)
        tree_total += (unsigned long long)info->st_size;
    return 0;
}

unsigned long long cdp_tree_size(const char *path) {
    tree_total = 0;
    nftw(path, add_size, 16, FTW_PHYS);
    return tree_total;
}
