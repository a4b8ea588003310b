/* Hex, big-endian integers, growable buffers and atomic durable file writes. */
#include "util/bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"

void cdp_hex_encode(char *out, const uint8_t *bytes, size_t len) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int cdp_hex_decode(uint8_t *out, size_t out_len, const char *hex, size_t hex_len) {
    if (hex_len != 2 * out_len)
        return -1;
    for (size_t i = 0; i < out_len; i++) {
        int high = hex_value(hex[2 * i]), low = hex_value(hex[2 * i + 1]);
        if (high < 0 || low < 0)
            return -1;
        out[i] = (uint8_t)(high << 4 | low);
    }
    return 0;
}

void cdp_store_be32(uint8_t *out, uint32_t value) {
    for (int i = 3; i >= 0; i--, value >>= 8)
        out[i] = (uint8_t)value;
}

void cdp_store_be64(uint8_t *out, uint64_t value) {
    for (int i = 7; i >= 0; i--, value >>= 8)
        out[i] = (uint8_t)value;
}

uint32_t cdp_load_be32(const uint8_t *in) {
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

uint64_t cdp_load_be64(const uint8_t *in) {
    return (uint64_t)cdp_load_be32(in) << 32 | cdp_load_be32(in + 4);
}

cdp_status cdp_buf_reserve(cdp_buf *buf, size_t extra) {
    if (extra > SIZE_MAX - buf->len)
        return CDP_NOMEM;
    size_t need = buf->len + extra;
    if (need <= buf->cap)
        return CDP_OK;
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *data = cdp_realloc(buf->data, cap);
    if (data == NULL)
        return CDP_NOMEM;
    buf->data = data;
    buf->cap = cap;
    return CDP_OK;
}

cdp_status cdp_buf_append(cdp_buf *buf, const void *bytes, size_t len) {
    cdp_status status = cdp_buf_reserve(buf, len);
    if (status != CDP_OK)
        return status;
    if (len > 0)
        memcpy(buf->data + buf->len, bytes, len);
    buf->len += len;
    return CDP_OK;
}

cdp_status cdp_buf_append_lp(cdp_buf *buf, const void *bytes, size_t len) {
    uint8_t prefix[4];
    if (len > UINT32_MAX)
        return CDP_BAD_REQUEST;
    cdp_store_be32(prefix, (uint32_t)len);
    cdp_status status = cdp_buf_append(buf, prefix, sizeof prefix);
    return status != CDP_OK ? status : cdp_buf_append(buf, bytes, len);
}

void cdp_buf_reset(cdp_buf *buf) { buf->len = 0; }

void cdp_buf_free_secret(cdp_buf *buf) {
    if (buf->data != NULL)
        sodium_memzero(buf->data, buf->cap);
    cdp_buf_free(buf);
}

void cdp_buf_free(cdp_buf *buf) {
    cdp_free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

static int fsync_parent_dir(const char *path) {
    char copy[4096];
    if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int dir = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (dir < 0)
        return -1;
    int rc = fsync(dir);
    close(dir);
    return rc;
}

cdp_status cdp_file_write_atomic(const char *path, const void *bytes, size_t len, int mode,
                                 cdp_err *err) {
    char temp[4096];
    if (snprintf(temp, sizeof temp, "%s.tmp", path) >= (int)sizeof temp)
        return cdp_err_set(err, CDP_IO, "%s: path too long", path);
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return cdp_err_set(err, CDP_IO, "%s: %s", temp, strerror(errno));
    /* open() applies the umask; the mode must hold exactly (secrets are 0600). */
    if (fchmod(fd, (mode_t)mode) != 0)
        goto fail;
    const uint8_t *cursor = bytes;
    size_t left = len;
    while (left > 0) {
        ssize_t written = write(fd, cursor, left);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        cursor += written;
        left -= (size_t)written;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(temp, path) != 0)
        goto fail;
    if (fsync_parent_dir(path) != 0)
        return cdp_err_set(err, CDP_IO, "%s: fsync of directory: %s", path, strerror(errno));
    return CDP_OK;
fail:;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(temp);
    return cdp_err_set(err, CDP_IO, "%s: %s", path, strerror(saved));
}

cdp_status cdp_file_read(const char *path, size_t max_len, uint8_t **out, size_t *out_len,
                         cdp_err *err) {
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cdp_err_set(err, errno == ENOENT ? CDP_NOT_FOUND : CDP_IO, "%s: %s", path,
                           strerror(errno));
    struct stat info;
    if (fstat(fd, &info) != 0) {
        close(fd);
        return cdp_err_set(err, CDP_IO, "%s: %s", path, strerror(errno));
    }
    if ((size_t)info.st_size > max_len) {
        close(fd);
        return cdp_err_set(err, CDP_CORRUPT, "%s: larger than %zu bytes", path, max_len);
    }
    size_t size = (size_t)info.st_size;
    uint8_t *data = cdp_malloc(size + 1);
    if (data == NULL) {
        close(fd);
        return cdp_err_set(err, CDP_NOMEM, "%s: out of memory", path);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != size) {
        cdp_free(data);
        return cdp_err_set(err, CDP_IO, "%s: short read", path);
    }
    data[size] = '\0';
    *out = data;
    *out_len = size;
    return CDP_OK;
}
