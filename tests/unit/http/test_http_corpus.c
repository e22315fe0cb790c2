/*
 * Replays every file of fuzz/corpus/http/ through the fuzz target, so the corpus and the
 * target's invariants run in every test run. A missing or empty corpus directory fails.
 */
#include "test.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../../../fuzz/fuzz_http_parse.c"

/* Read a whole file (at most 1 MiB) into a malloc'd buffer; NULL on failure. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    size_t cap = 1024 * 1024;
    char *data = malloc(cap);
    size_t n = data ? fread(data, 1, cap, f) : 0;
    int bad = ferror(f) || !feof(f);
    fclose(f);
    if (!data || bad) {
        free(data);
        return NULL;
    }
    *len = n;
    return data;
}

int main(void)
{
    const char *root = getenv("SB_SOURCE_DIR");
    CHECK(root != NULL);
    if (!root) {
        return test_done();
    }
    char dir[4096];
    CHECK(snprintf(dir, sizeof dir, "%s/fuzz/corpus/http", root) < (int)sizeof dir);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) {
        fprintf(stderr, "corpus directory %s missing\n", dir);
        return test_done();
    }
    int files = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        char path[8192];
        if (e->d_name[0] == '.' ||
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) {
            continue;
        }
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        size_t len = 0;
        char *data = read_file(path, &len);
        CHECK(data != NULL);
        if (!data) {
            fprintf(stderr, "cannot read %s\n", path);
            continue;
        }
        CHECK_EQ_INT(LLVMFuzzerTestOneInput((const uint8_t *)data, len), 0);
        free(data);
        files++;
    }
    closedir(d);
    printf("replayed %d corpus files from %s\n", files, dir);
    CHECK(files > 0);
    return test_done();
}
