/*
 * Replays every file of fuzz/corpus/phx/ through the Phoenix codec fuzz target (decode,
 * re-encode, decode again, with its invariants), so the seeds run in every test run.
 */
#include "test.h"

#include "../../../fuzz/fuzz_phx.c"
#include "../../../fuzz/replay.h"

int main(void)
{
    fuzz_replay_corpus("phx");
    return test_done();
}
