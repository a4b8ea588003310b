/* The root key: created as a 0600 file by `cdpctl init`, loaded from that file (refused when
 * group or others can reach it) or from CDP_ROOT_KEY. The 32 bytes live in sodium_malloc'd,
 * mlocked, read-only memory and are wiped when freed. */
#include "crypto/rootkey.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/bytes.h"

struct cdp_rootkey {
    uint8_t *key; /* CDP_ROOT_KEY_BYTES in sodium_malloc'd memory, read-only once filled */
    int from_env;
};

/* sodium_malloc bypasses cdp_malloc; asking the allocation wrapper first lets the tests' failure
 * injection reach the secret allocations too. */
static void *rootkey_secret_alloc(size_t size) {
    void *gate = cdp_malloc(1);
    if (gate == NULL)
        return NULL;
    cdp_free(gate);
    return sodium_malloc(size);
}

/* Takes ownership of key (sodium_malloc'd, filled); frees it on failure. */
static cdp_status rootkey_wrap(uint8_t *key, int from_env, cdp_rootkey **out, cdp_err *err) {
    cdp_rootkey *rootkey = cdp_malloc(sizeof *rootkey);
    if (rootkey == NULL) {
        sodium_free(key);
        return cdp_err_set(err, CDP_NOMEM, "root key: out of memory");
    }
    sodium_mprotect_readonly(key);
    rootkey->key = key;
    rootkey->from_env = from_env;
    *out = rootkey;
    return CDP_OK;
}

static cdp_status rootkey_from_env(const char *hex, cdp_rootkey **out, cdp_err *err) {
    size_t hex_len = strlen(hex);
    /* The value is a secret: messages give its length, never its characters. */
    if (hex_len != (size_t)2 * CDP_ROOT_KEY_BYTES)
        return cdp_err_set(err, CDP_BAD_KEY, "%s: expected %d hex characters, got %zu",
                           CDP_ROOT_KEY_ENV, 2 * CDP_ROOT_KEY_BYTES, hex_len);
    uint8_t *key = rootkey_secret_alloc(CDP_ROOT_KEY_BYTES);
    if (key == NULL)
        return cdp_err_set(err, CDP_NOMEM, "%s: out of memory", CDP_ROOT_KEY_ENV);
    if (cdp_hex_decode(key, CDP_ROOT_KEY_BYTES, hex, hex_len) != 0) {
        sodium_free(key);
        return cdp_err_set(err, CDP_BAD_KEY, "%s: not a hex string", CDP_ROOT_KEY_ENV);
    }
    return rootkey_wrap(key, 1, out, err);
}

static cdp_status rootkey_from_file(const char *path, cdp_rootkey **out, cdp_err *err) {
    cdp_status status = CDP_OK;
    uint8_t *key = NULL;
    /* O_NOFOLLOW: a symlink could point the key at a file of someone else's choosing.
     * O_NONBLOCK: opening a FIFO planted at the path must not hang; fstat refuses it next. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        if (saved == ENOENT)
            status = cdp_err_set(err, CDP_NOT_FOUND,
                                 "%s: no root key file (run `cdpctl init` "
                                 "or set %s)",
                                 path, CDP_ROOT_KEY_ENV);
        else if (saved == ELOOP)
            status =
                cdp_err_set(err, CDP_BAD_KEY,
                            "%s: is a symbolic link; the root key must be a regular file", path);
        else
            status = cdp_err_set(err, CDP_IO, "%s: %s", path, strerror(saved));
        goto done;
    }
    struct stat info;
    if (fstat(fd, &info) != 0) {
        status = cdp_err_set(err, CDP_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(info.st_mode)) {
        status = cdp_err_set(err, CDP_BAD_KEY, "%s: not a regular file", path);
        goto done;
    }
    if ((info.st_mode & 077) != 0) {
        status = cdp_err_set(err, CDP_INSECURE,
                             "%s: mode %04o is readable or writable by group or others; "
                             "chmod 600",
                             path, (unsigned)(info.st_mode & 07777));
        goto done;
    }
    if (info.st_size != CDP_ROOT_KEY_BYTES) {
        status = cdp_err_set(err, CDP_BAD_KEY, "%s: %lld bytes, a root key has exactly %d", path,
                             (long long)info.st_size, CDP_ROOT_KEY_BYTES);
        goto done;
    }
    key = rootkey_secret_alloc(CDP_ROOT_KEY_BYTES);
    if (key == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t got = 0;
    while (got < CDP_ROOT_KEY_BYTES) {
        ssize_t n = read(fd, key + got, CDP_ROOT_KEY_BYTES - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            status = cdp_err_set(err, CDP_IO, "%s: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0) {
            status = cdp_err_set(err, CDP_BAD_KEY, "%s: shorter than %d bytes", path,
                                 CDP_ROOT_KEY_BYTES);
            goto done;
        }
        got += (size_t)n;
    }
    status = rootkey_wrap(key, 0, out, err);
    key = NULL; /* owned by *out now, or freed */
done:
    sodium_free(key);
    if (fd >= 0)
        close(fd);
    return status;
}

cdp_status cdp_rootkey_load(const char *path, cdp_rootkey **out, cdp_err *err) {
    if (out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "root key: no output pointer");
    *out = NULL;
    if (sodium_init() < 0)
        return cdp_err_set(err, CDP_INTERNAL, "root key: libsodium failed to initialise");
    const char *hex = getenv(CDP_ROOT_KEY_ENV);
    if (hex != NULL)
        return rootkey_from_env(hex, out, err);
    if (path == NULL)
        return cdp_err_set(err, CDP_MISUSE, "root key: no path and %s is not set",
                           CDP_ROOT_KEY_ENV);
    return rootkey_from_file(path, out, err);
}

cdp_status cdp_rootkey_from_bytes(const uint8_t key[CDP_ROOT_KEY_BYTES], cdp_rootkey **out,
                                  cdp_err *err) {
    if (out == NULL || key == NULL)
        return cdp_err_set(err, CDP_MISUSE, "root key: NULL key or output pointer");
    *out = NULL;
    if (sodium_init() < 0)
        return cdp_err_set(err, CDP_INTERNAL, "root key: libsodium failed to initialise");
    uint8_t *copy = rootkey_secret_alloc(CDP_ROOT_KEY_BYTES);
    if (copy == NULL)
        return cdp_err_set(err, CDP_NOMEM, "root key: out of memory");
    memcpy(copy, key, CDP_ROOT_KEY_BYTES);
    return rootkey_wrap(copy, 0, out, err);
}

static int rootkey_fsync_parent(const char *path) {
    char *copy = cdp_strdup(path);
    if (copy == NULL) {
        errno = ENOMEM;
        return -1;
    }
    int dir = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cdp_free(copy);
    if (dir < 0)
        return -1;
    int rc = fsync(dir);
    int saved = errno;
    close(dir);
    errno = saved;
    return rc;
}

cdp_status cdp_rootkey_create_file(const char *path, cdp_err *err) {
    cdp_status status = CDP_OK;
    uint8_t key[CDP_ROOT_KEY_BYTES];
    int created = 0;
    int fd = -1;
    if (path == NULL)
        return cdp_err_set(err, CDP_MISUSE, "root key: NULL path");
    if (sodium_init() < 0)
        return cdp_err_set(err, CDP_INTERNAL, "root key: libsodium failed to initialise");
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        status = cdp_err_set(err, errno == EEXIST ? CDP_EXISTS : CDP_IO, "%s: %s", path,
                             strerror(errno));
        goto done;
    }
    created = 1;
    /* open() applied the umask, which can only remove bits; fchmod makes it exactly 0600. */
    if (fchmod(fd, 0600) != 0) {
        status = cdp_err_set(err, CDP_IO, "%s: chmod: %s", path, strerror(errno));
        goto done;
    }
    randombytes_buf(key, sizeof key);
    size_t written = 0;
    while (written < sizeof key) {
        ssize_t n = write(fd, key + written, sizeof key - written);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            status = cdp_err_set(err, CDP_IO, "%s: write: %s", path,
                                 n < 0 ? strerror(errno) : "no progress");
            goto done;
        }
        written += (size_t)n;
    }
    if (fsync(fd) != 0) {
        status = cdp_err_set(err, CDP_IO, "%s: fsync: %s", path, strerror(errno));
        goto done;
    }
    int rc = close(fd);
    fd = -1;
    if (rc != 0) {
        status = cdp_err_set(err, CDP_IO, "%s: close: %s", path, strerror(errno));
        goto done;
    }
    /* The file's directory entry must be durable too before anything is sealed with the key. */
    if (rootkey_fsync_parent(path) != 0) {
        status = cdp_err_set(err, CDP_IO, "%s: fsync of directory: %s", path, strerror(errno));
        goto done;
    }
done:
    sodium_memzero(key, sizeof key);
    if (fd >= 0)
        close(fd);
    /* A half-made key file would make the next `create` fail with EXISTS and `load` with a
     * key nothing was sealed with: remove it. */
    if (status != CDP_OK && created)
        unlink(path);
    return status;
}

const uint8_t *cdp_rootkey_bytes(const cdp_rootkey *rootkey) {
    return rootkey != NULL ? rootkey->key : NULL;
}

int cdp_rootkey_from_env(const cdp_rootkey *rootkey) {
    return rootkey != NULL ? rootkey->from_env : 0;
}

void cdp_rootkey_free(cdp_rootkey *rootkey) {
    if (rootkey == NULL)
        return;
    sodium_free(rootkey->key); /* wipes, whatever its protection */
    cdp_free(rootkey);
}
