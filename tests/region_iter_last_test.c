/* cdp_region_iter_last: an iterator made at the last key of its prefix (one seek), walking back
 * through exactly that prefix, for prefixes in the middle, at the end (0xff bytes, no upper
 * bound) and without keys. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/region.h"
#include "support/testutil.h"
#include "util/bytes.h"

static char *base;
static cdp_region *region;

static void setup(void) {
    base = test_tempdir("iterlast");
    cr_assert_not_null(base);
    char path[1024];
    snprintf(path, sizeof path, "%s/eu", base);
    cdp_region_options options = {.create = 1};
    cdp_err err = {0};
    cr_assert_eq(cdp_region_open(path, "eu", &options, &region, &err), CDP_OK, "%s",
                 err.message);
}

static void teardown(void) {
    cdp_region_close(region);
    test_rmtree(base);
    free(base);
}

static void person_prefix(uint8_t prefix[16], int person) {
    /* Person 1 ends in 0xff (the bound carries), person 3 is all 0xff (no upper bound). */
    memset(prefix, person == 1 || person == 3 ? 0xff : person, 16);
    if (person != 3)
        prefix[0] = (uint8_t)person;
}

/* Persons 0, 1 and 3 with `per` events each (value person * 10 + t); person 2 has none. */
static void fill(int per) {
    cdp_batch *batch = cdp_batch_new();
    cdp_err err = {0};
    for (int person = 0; person < 4; person++) {
        if (person == 2)
            continue;
        for (int t = 0; t < per; t++) {
            uint8_t key[24];
            person_prefix(key, person);
            cdp_store_be64(key + 16, (uint64_t)(1000 + t));
            uint8_t value = (uint8_t)(person * 10 + t);
            cdp_batch_put(batch, region, CDP_CF_EVENTS, key, sizeof key, &value, 1);
        }
    }
    cr_assert_eq(cdp_region_write(region, batch, 0, &err), CDP_OK);
    cdp_batch_free(batch);
}

/* Values seen walking back from the last key of person's prefix, into out; returns count. */
static int walk_back(int person, uint8_t *out, int cap) {
    uint8_t prefix[16];
    person_prefix(prefix, person);
    cdp_iter *iter = NULL;
    cdp_err err = {0};
    cr_assert_eq(cdp_region_iter_last(region, CDP_CF_EVENTS, prefix, 16, &iter, &err), CDP_OK);
    int count = 0;
    for (; cdp_iter_valid(iter); cdp_iter_prev(iter)) {
        size_t len = 0;
        const uint8_t *value = cdp_iter_value(iter, &len);
        cr_assert_eq(len, 1);
        cr_assert_lt(count, cap);
        out[count++] = value[0];
    }
    cr_assert_eq(cdp_iter_status(iter, &err), CDP_OK);
    cdp_iter_free(iter);
    return count;
}

TestSuite(region_iter_last, .init = setup, .fini = teardown);

Test(region_iter_last, walks_back_through_exactly_its_prefix) {
    fill(5);
    for (int person = 0; person < 4; person++) {
        uint8_t seen[16];
        int count = walk_back(person, seen, 16);
        if (person == 2) {
            cr_assert_eq(count, 0, "a prefix without keys yields nothing");
            continue;
        }
        cr_assert_eq(count, 5, "person %d: %d keys", person, count);
        for (int i = 0; i < count; i++)
            cr_assert_eq(seen[i], person * 10 + 4 - i, "person %d newest first", person);
    }
}

Test(region_iter_last, empty_column_family_yields_nothing) {
    uint8_t seen[4];
    for (int person = 0; person < 4; person++)
        cr_assert_eq(walk_back(person, seen, 4), 0);
}

Test(region_iter_last, agrees_with_seek_last_after_a_forward_walk) {
    fill(3);
    uint8_t prefix[16];
    person_prefix(prefix, 1);
    cdp_iter *iter = NULL;
    cdp_err err = {0};
    cr_assert_eq(cdp_region_iter(region, CDP_CF_EVENTS, prefix, 16, &iter, &err), CDP_OK);
    cdp_iter_seek_last(iter);
    size_t len = 0;
    cr_assert(cdp_iter_valid(iter));
    uint8_t expected = cdp_iter_value(iter, &len)[0];
    cdp_iter_free(iter);
    uint8_t seen[4];
    cr_assert_eq(walk_back(1, seen, 4), 3);
    cr_assert_eq(seen[0], expected);
}
