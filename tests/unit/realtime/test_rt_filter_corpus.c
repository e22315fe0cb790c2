/*
 * Replays every file of fuzz/corpus/rt_filter/ through the postgres_changes filter fuzz
 * target (parse, canonical form, matching and its metamorphic checks), so the seeds run in
 * every test run.
 */
#include "test.h"

#include "../../../fuzz/fuzz_rt_filter.c"
#include "../../../fuzz/replay.h"

int main(void)
{
    fuzz_replay_corpus("rt_filter");
    return test_done();
}
