/* Helpers shared by the Criterion tests: temporary directories and file scanning. */
#ifndef CDP_TEST_TESTUTIL_H
#define CDP_TEST_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* A fresh directory under $TMPDIR (or /tmp); caller frees the string with free(). */
char *test_tempdir(const char *tag);
/* Removes a tree (like rm -rf); ignores errors. */
void test_rmtree(const char *path);
/* Counts occurrences of needle in every regular file below root (recursive). When
 * first_hit_path is non-NULL and there is a hit, the first file's path is copied there. */
size_t test_scan_tree(const char *root, const uint8_t *needle, size_t needle_len,
                      char *first_hit_path, size_t path_cap);
/* Reads a whole file; caller frees with free(). NULL on error. */
uint8_t *test_read_file(const char *path, size_t *len);
int test_write_file(const char *path, const void *bytes, size_t len, int mode);

/* Opens (create 1: creates) a data directory with the shipped policy bundle
 * ($CDP_SOURCE_DIR/policies), an 8 MiB block cache and a key cache of 1,024 people, as the
 * store tests all want. Returns cdp_open's status; *db as cdp_open leaves it. */
struct cdp;
int test_store_open(const char *data_dir, int create, struct cdp **db);

#endif
