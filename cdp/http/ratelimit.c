/* Token buckets per API key id in a small chained hash table under one mutex: a take is a hash,
 * a lookup and a few arithmetic operations, far below the cost of the request it guards. The
 * table only holds verified key ids, so its size is bounded by the keys that exist. */
#include "http/ratelimit.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_BUCKETS 256

typedef struct token_bucket {
    char key_id[CDP_KEY_ID_MAX + 1];
    cdp_role role;
    double tokens;
    double updated; /* monotonic seconds */
    struct token_bucket *next;
} token_bucket;

struct http_ratelimiter {
    http_rate rates[HTTP_ROLE_SLOTS];
    pthread_mutex_t lock;
    token_bucket *table[TABLE_BUCKETS];
};

static void set_defaults(http_rate rates[HTTP_ROLE_SLOTS]) {
    for (int role = 0; role < HTTP_ROLE_SLOTS; role++)
        rates[role] = (http_rate){200, 400};
    rates[CDP_ROLE_INGEST] = (http_rate){2000, 4000};
}

int http_rates_load(const char *path, http_rate rates[HTTP_ROLE_SLOTS], char *error,
                    size_t error_cap) {
    set_defaults(rates);
    if (path == NULL)
        return 0;
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return 0; /* no roles file: the defaults */
    json_error_t json_error;
    json_t *root = json_loadf(file, JSON_REJECT_DUPLICATES, &json_error);
    fclose(file);
    if (root == NULL) {
        snprintf(error, error_cap, "roles.json: line %d: %s", json_error.line, json_error.text);
        return -1;
    }
    int result = 0;
    json_t *limits = json_object_get(root, "rate_limits");
    if (limits != NULL && !json_is_object(limits)) {
        snprintf(error, error_cap, "roles.json: rate_limits: must be an object");
        result = -1;
    }
    const char *name;
    json_t *entry;
    json_object_foreach(limits, name, entry) {
        cdp_role role;
        if (result != 0)
            break;
        if (cdp_role_parse(name, &role) != CDP_OK) {
            snprintf(error, error_cap, "roles.json: rate_limits.%.40s: unknown role", name);
            result = -1;
            break;
        }
        json_t *per_second = json_object_get(entry, "requests_per_second");
        json_t *burst = json_object_get(entry, "burst");
        if (!json_is_number(per_second) || json_number_value(per_second) <= 0) {
            snprintf(error, error_cap,
                     "roles.json: rate_limits.%s.requests_per_second: must be a number > 0", name);
            result = -1;
        } else if (!json_is_number(burst) || json_number_value(burst) < 1) {
            snprintf(error, error_cap, "roles.json: rate_limits.%s.burst: must be a number >= 1",
                     name);
            result = -1;
        } else {
            rates[role].per_second = json_number_value(per_second);
            rates[role].burst = json_number_value(burst);
        }
    }
    json_decref(root);
    return result;
}

http_ratelimiter *http_ratelimiter_new(const http_rate rates[HTTP_ROLE_SLOTS]) {
    http_ratelimiter *limiter = calloc(1, sizeof *limiter);
    if (limiter == NULL)
        return NULL;
    memcpy(limiter->rates, rates, sizeof limiter->rates);
    if (pthread_mutex_init(&limiter->lock, NULL) != 0) {
        free(limiter);
        return NULL;
    }
    return limiter;
}

void http_ratelimiter_free(http_ratelimiter *limiter) {
    if (limiter == NULL)
        return;
    for (size_t i = 0; i < TABLE_BUCKETS; i++)
        for (token_bucket *bucket = limiter->table[i], *next; bucket != NULL; bucket = next) {
            next = bucket->next;
            free(bucket);
        }
    pthread_mutex_destroy(&limiter->lock);
    free(limiter);
}

static size_t hash_key(const char *key_id) {
    size_t hash = 2166136261u; /* FNV-1a */
    for (; *key_id; key_id++)
        hash = (hash ^ (unsigned char)*key_id) * 16777619u;
    return hash % TABLE_BUCKETS;
}

static double monotonic_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

int http_ratelimiter_take(http_ratelimiter *limiter, const char *key_id, cdp_role role,
                          unsigned *retry_after_seconds) {
    if ((int)role < 0 || (int)role >= HTTP_ROLE_SLOTS)
        role = 0;
    const http_rate *rate = &limiter->rates[role];
    double now = monotonic_seconds();
    size_t slot = hash_key(key_id);
    int result = 1;
    pthread_mutex_lock(&limiter->lock);
    token_bucket *bucket = limiter->table[slot];
    while (bucket != NULL && strcmp(bucket->key_id, key_id) != 0)
        bucket = bucket->next;
    if (bucket == NULL) {
        bucket = calloc(1, sizeof *bucket);
        if (bucket == NULL) {
            result = -1;
            goto done;
        }
        snprintf(bucket->key_id, sizeof bucket->key_id, "%s", key_id);
        bucket->tokens = rate->burst;
        bucket->updated = now;
        bucket->next = limiter->table[slot];
        limiter->table[slot] = bucket;
    }
    bucket->role = role;
    bucket->tokens += (now - bucket->updated) * rate->per_second;
    if (bucket->tokens > rate->burst)
        bucket->tokens = rate->burst;
    bucket->updated = now;
    if (bucket->tokens >= 1.0) {
        bucket->tokens -= 1.0;
    } else {
        double wait = (1.0 - bucket->tokens) / rate->per_second;
        *retry_after_seconds = wait < 1.0 ? 1u : (unsigned)ceil(wait);
        result = 0;
    }
done:
    pthread_mutex_unlock(&limiter->lock);
    return result;
}
