/* Test helpers: temp dirs, recursive removal, raw byte scans of a data directory. */
#include "support/testutil.h"

#include "cdp/cdp.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *test_tempdir(const char *tag) {
    const char *base = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/cdp-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (mkdtemp(path) == NULL)
        return NULL;
    return strdup(path);
}

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *ftw) {
    (void)info;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void test_rmtree(const char *path) {
    if (path != NULL)
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

uint8_t *test_read_file(const char *path, size_t *len) {
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return NULL;
    size_t cap = 4096, used = 0;
    uint8_t *data = malloc(cap);
    size_t n;
    while (data != NULL && (n = fread(data + used, 1, cap - used, file)) > 0) {
        used += n;
        if (used == cap) {
            uint8_t *bigger = realloc(data, cap * 2);
            if (bigger == NULL) {
                free(data);
                data = NULL;
                break;
            }
            data = bigger;
            cap *= 2;
        }
    }
    fclose(file);
    if (data != NULL && len != NULL)
        *len = used;
    return data;
}

int test_write_file(const char *path, const void *bytes, size_t len, int mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return -1;
    ssize_t written = write(fd, bytes, len);
    fchmod(fd, (mode_t)mode);
    close(fd);
    return written == (ssize_t)len ? 0 : -1;
}

static size_t count_in(const uint8_t *hay, size_t hay_len, const uint8_t *needle,
                       size_t needle_len) {
    size_t hits = 0;
    if (needle_len == 0 || hay_len < needle_len)
        return 0;
    const uint8_t *cursor = hay, *end = hay + hay_len;
    while ((size_t)(end - cursor) >= needle_len) {
        const uint8_t *found = memmem(cursor, (size_t)(end - cursor), needle, needle_len);
        if (found == NULL)
            break;
        hits++;
        cursor = found + 1;
    }
    return hits;
}

size_t test_scan_tree(const char *root, const uint8_t *needle, size_t needle_len,
                      char *first_hit_path, size_t path_cap) {
    size_t hits = 0;
    DIR *dir = opendir(root);
    if (dir == NULL)
        return 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", root, entry->d_name);
        struct stat info;
        if (lstat(path, &info) != 0)
            continue;
        if (S_ISDIR(info.st_mode)) {
            size_t sub = test_scan_tree(path, needle, needle_len,
                                        hits == 0 ? first_hit_path : NULL, path_cap);
            hits += sub;
        } else if (S_ISREG(info.st_mode)) {
            size_t len = 0;
            uint8_t *data = test_read_file(path, &len);
            if (data == NULL)
                continue;
            size_t found = count_in(data, len, needle, needle_len);
            if (found > 0 && hits == 0 && first_hit_path != NULL)
                snprintf(first_hit_path, path_cap, "%s", path);
            hits += found;
            free(data);
        }
    }
    closedir(dir);
    return hits;
}

int test_store_open(const char *data_dir, int create, cdp_t **db) {
    cdp_options options;
    cdp_options_default(&options);
    options.create = create;
    char policies[1024];
    snprintf(policies, sizeof policies, "%s/policies",
             getenv("CDP_SOURCE_DIR") ? getenv("CDP_SOURCE_DIR") : ".");
    options.policy_dir = policies;
    options.block_cache_bytes = 8u << 20;
    options.key_cache_entries = 1024;
    return cdp_open(data_dir, &options, db);
}
