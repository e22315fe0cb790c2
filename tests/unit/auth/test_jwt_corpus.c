/*
 * Replays every file of fuzz/corpus/jwt/ through the JWT fuzz target (verification of raw
 * tokens, of segments it signs itself, and the sign/verify/mutate checks), so the seeds run
 * in every test run.
 */
#include "test.h"

#include "../../../fuzz/fuzz_jwt.c"
#include "../../../fuzz/replay.h"

int main(void)
{
    fuzz_replay_corpus("jwt");
    return test_done();
}
