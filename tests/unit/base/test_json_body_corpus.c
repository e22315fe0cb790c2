/*
 * Replays every file of fuzz/corpus/json_body/ through the JSON request body fuzz target
 * (json_parse_strict and its invariants), so the seeds run in every test run.
 */
#include "test.h"

#include "../../../fuzz/fuzz_json_body.c"
#include "../../../fuzz/replay.h"

int main(void)
{
    fuzz_replay_corpus("json_body");
    return test_done();
}
