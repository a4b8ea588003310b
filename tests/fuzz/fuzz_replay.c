/* Replays files through a harness's LLVMFuzzerTestOneInput without libFuzzer, so the normal
 * (gcc) build turns every committed crash input and seed into a regression test:
 *   fuzz_<name>_replay DIR_OR_FILE...
 * Directories are read in name order (not recursively). A broken invariant aborts, as under
 * libFuzzer; exits 2 when no input was found, so a misplaced directory cannot pass silently. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay_file(const char *path) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *data = malloc(cap);
    size_t got;
    while (data != NULL && (got = fread(data + len, 1, cap - len, file)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *bigger = realloc(data, cap * 2);
            if (bigger == NULL)
                free(data);
            data = bigger;
            cap *= 2;
        }
    }
    int failed = data == NULL || ferror(file);
    fclose(file);
    if (failed) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(data);
        return -1;
    }
    fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
    /* A copy of exactly len bytes, so ASan sees any read past the input. */
    uint8_t *exact = malloc(len > 0 ? len : 1);
    if (exact == NULL) {
        free(data);
        return -1;
    }
    memcpy(exact, data, len);
    free(data);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *path, size_t *count) {
    DIR *dir = opendir(path);
    if (dir == NULL) {
        perror(path);
        return -1;
    }
    char **names = NULL;
    size_t name_count = 0;
    struct dirent *entry;
    int status = 0;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char **more = realloc(names, (name_count + 1) * sizeof *names);
        if (more == NULL) {
            status = -1;
            break;
        }
        names = more;
        size_t len = strlen(path) + strlen(entry->d_name) + 2;
        names[name_count] = malloc(len);
        if (names[name_count] == NULL) {
            status = -1;
            break;
        }
        snprintf(names[name_count++], len, "%s/%s", path, entry->d_name);
    }
    closedir(dir);
    qsort(names, name_count, sizeof *names, compare_names);
    for (size_t i = 0; i < name_count; i++) {
        struct stat info;
        if (status == 0 && stat(names[i], &info) == 0 && S_ISREG(info.st_mode)) {
            status = replay_file(names[i]);
            (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return status;
}

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat info;
        if (stat(argv[i], &info) != 0) {
            perror(argv[i]);
            return 1;
        }
        int status = S_ISDIR(info.st_mode) ? replay_dir(argv[i], &count)
                                           : (count++, replay_file(argv[i]));
        if (status != 0)
            return 1;
    }
    if (count == 0) {
        fprintf(stderr, "no inputs replayed\n");
        return 2;
    }
    fprintf(stderr, "replayed %zu inputs\n", count);
    return 0;
}
