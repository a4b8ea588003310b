/* Table-file checksum verification before a region opens (see sst_check.h). */
#include "store/sst_check.h"

#include <dirent.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

bool is_table_file(const char *name) {
    size_t len = std::strlen(name);
    return len > 4 && std::strcmp(name + len - 4, ".sst") == 0;
}

int check_file(const std::string &path, const char *name, char *message, size_t cap) {
    rocksdb::Options options;
    rocksdb::SstFileReader reader(options);
    rocksdb::Status status = reader.Open(path);
    if (status.ok()) {
        rocksdb::ReadOptions read_options;
        read_options.verify_checksums = true;
        read_options.fill_cache = false;
        status = reader.VerifyChecksum(read_options);
    }
    if (status.ok())
        return CDP_SST_OK;
    if (cap > 0)
        std::snprintf(message, cap, "table file %s: %s", name, status.ToString().c_str());
    return status.IsIOError() ? CDP_SST_IO : CDP_SST_CORRUPT;
}

} // namespace

extern "C" int cdp_sst_check_dir(const char *dir, char *message, size_t cap) {
    if (cap > 0)
        message[0] = '\0';
    try {
        DIR *listing = opendir(dir);
        if (listing == nullptr) {
            if (cap > 0)
                std::snprintf(message, cap, "%s: cannot list the directory", dir);
            return CDP_SST_IO;
        }
        int result = CDP_SST_OK;
        while (result == CDP_SST_OK) {
            struct dirent *entry = readdir(listing);
            if (entry == nullptr)
                break;
            if (is_table_file(entry->d_name))
                result = check_file(std::string(dir) + "/" + entry->d_name, entry->d_name,
                                    message, cap);
        }
        closedir(listing);
        return result;
    } catch (...) {
        if (cap > 0)
            std::snprintf(message, cap, "%s: checking table files failed", dir);
        return CDP_SST_IO;
    }
}
