/* cdpctl: helpers shared by the verbs' --json output and progress lines. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "cli.h"

int cli_print_json(json_t *value) {
    char *text = value != NULL ? json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(value);
    if (text == NULL) {
        fprintf(stderr, "cdpctl: out of memory\n");
        return EXIT_RUNTIME;
    }
    printf("%s\n", text);
    free(text);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
}

int cli_print_json_text(const char *text) {
    json_t *value = json_loads(text, 0, NULL);
    if (value == NULL) {
        printf("%s\n", text);
        return EXIT_OK;
    }
    return cli_print_json(value);
}

int cli_region_count(cdp_t *db, const char *region, const char *field, uint64_t *count) {
    cdp_actor actor;
    char *json = NULL;
    int code = EXIT_RUNTIME;
    if (cdp_actor_local(db, CDP_ROLE_ADMIN, NULL, NULL, &actor) != CDP_OK ||
        cdp_stats(db, &actor, &json) != CDP_OK)
        return EXIT_RUNTIME;
    json_t *root = json_loads(json, 0, NULL);
    size_t index;
    json_t *row;
    json_array_foreach(json_object_get(root, "regions"), index, row) {
        const char *name = json_string_value(json_object_get(row, "region"));
        if (name != NULL && strcmp(name, region) == 0) {
            *count = (uint64_t)json_integer_value(json_object_get(row, field));
            code = EXIT_OK;
        }
    }
    json_decref(root);
    cdp_free(json);
    return code;
}

void cli_tree_size(const char *path, uint64_t *files, uint64_t *bytes) {
    DIR *dir = opendir(path);
    if (dir == NULL)
        return;
    struct dirent *entry;
    char child[4096];
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        int n = snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
        struct stat info;
        if (n < 0 || (size_t)n >= sizeof child || lstat(child, &info) != 0)
            continue;
        if (S_ISREG(info.st_mode)) {
            (*files)++;
            *bytes += (uint64_t)info.st_size;
        } else if (S_ISDIR(info.st_mode)) {
            cli_tree_size(child, files, bytes);
        }
    }
    closedir(dir);
}
