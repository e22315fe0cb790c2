/*
 * Corpus replay for the unit tests: fuzz_replay_corpus(name) runs every regular file of
 * fuzz/corpus/<name>/ through LLVMFuzzerTestOneInput (whose invariants abort when broken)
 * and checks that it returns 0. The source tree comes from SB_SOURCE_DIR (set by CTest); a
 * missing or empty corpus is a failure, never a skip. Include after test.h and the target.
 */
#ifndef SB_FUZZ_REPLAY_H
#define SB_FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Read a whole file of at most 1 MiB into a malloc'd buffer; NULL on failure or when larger. */
static uint8_t *fuzz_replay_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    size_t cap = 1024 * 1024;
    uint8_t *data = malloc(cap);
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

/* Replay fuzz/corpus/<name>/; returns the number of files replayed. */
static int fuzz_replay_corpus(const char *name)
{
    const char *root = getenv("SB_SOURCE_DIR");
    CHECK(root != NULL);
    if (!root) {
        return 0;
    }
    char dir[4096];
    CHECK(snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", root, name) < (int)sizeof dir);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d) {
        fprintf(stderr, "corpus directory %s missing\n", dir);
        return 0;
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
        uint8_t *data = fuzz_replay_read(path, &len);
        CHECK(data != NULL);
        if (!data) {
            fprintf(stderr, "cannot read %s\n", path);
            continue;
        }
        fprintf(stderr, "replay %s\n", e->d_name);
        CHECK_EQ_INT(LLVMFuzzerTestOneInput(data, len), 0);
        free(data);
        files++;
    }
    closedir(d);
    printf("replayed %d corpus files from %s\n", files, dir);
    CHECK(files > 0);
    return files;
}

#endif
