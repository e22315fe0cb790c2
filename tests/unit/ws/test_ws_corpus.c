/*
 * Replays every seed of fuzz/corpus/ws through the fuzz target's checker, so the corpus runs
 * in every test pass. The source tree is found through SB_SOURCE_DIR (set by CTest); a
 * missing or empty corpus is a failure, not a skip.
 */
#include "test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../../fuzz/fuzz_ws_reader.c"

/* Read a whole file (at most 1 MiB); NULL on error. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    size_t cap = 1 << 20;
    uint8_t *data = malloc(cap);
    *len = data ? fread(data, 1, cap, f) : 0;
    if (data && ferror(f)) {
        free(data);
        data = NULL;
    }
    fclose(f);
    return data;
}

int main(void)
{
    const char *src = getenv("SB_SOURCE_DIR");
    CHECK(src != NULL);
    if (!src) {
        return test_done();
    }
    char dir_path[4096];
    snprintf(dir_path, sizeof(dir_path), "%s/fuzz/corpus/ws", src);
    DIR *dir = opendir(dir_path);
    CHECK(dir != NULL);
    if (!dir) {
        fprintf(stderr, "cannot open %s\n", dir_path);
        return test_done();
    }
    size_t files = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", dir_path, de->d_name);
        size_t len = 0;
        uint8_t *data = read_file(path, &len);
        CHECK(data != NULL);
        if (!data) {
            continue;
        }
        int rc = fuzz_ws_reader_run(data, len);
        if (rc != 0) {
            fprintf(stderr, "seed %s broke an invariant\n", de->d_name);
        }
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_INT(LLVMFuzzerTestOneInput(data, len), 0);
        free(data);
        files++;
    }
    closedir(dir);
    CHECK(files > 0);
    printf("%zu corpus files replayed\n", files);
    return test_done();
}
