/* Checks a RocksDB directory's table files (*.sst) block by block against their checksums before
 * the region is opened, so a damaged file stops the open with its name instead of surfacing as a
 * read error (or, where a block is rarely read, not at all) while the server runs. A C shim over
 * RocksDB's C++ SstFileReader (the C API has no checksum verification). */
#ifndef CDP_STORE_SST_CHECK_H
#define CDP_STORE_SST_CHECK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CDP_SST_OK 0
#define CDP_SST_CORRUPT 1 /* a file fails its checksums or does not parse as a table */
#define CDP_SST_IO 2      /* the directory or a file could not be read */

/* Verifies every *.sst file directly in dir. On failure, message (always NUL-terminated when
 * cap > 0) names the file and RocksDB's reason. Reads every table byte once: about a second per
 * GB. Thread-safe; never throws. */
int cdp_sst_check_dir(const char *dir, char *message, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
