/*
 * The cluster bus alone (store.h: store_bus_publish and the bus hook over PostgreSQL NOTIFY):
 * two stores on one database stand for two nodes; one publishes COUNT messages of SIZE bytes
 * as fast as it can, the other counts what its hook receives. Prints the messages per second
 * the bus carried end to end (first publish to last receipt) and the publisher's counters.
 *
 * usage: bus_bench URL [COUNT] [SIZE]    (bench/cluster/run.sh builds and runs it)
 * Every wait is bounded (60 s).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static atomic_long received;

static void on_bus(void *arg, const char *msg, size_t len)
{
    (void)arg;
    (void)len;
    if (msg) {
        atomic_fetch_add(&received, 1);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bus_bench URL [COUNT] [SIZE]\n");
        return 2;
    }
    long count = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;
    long size = argc > 3 ? strtol(argv[3], NULL, 10) : 150;
    if (count <= 0 || size <= 0 || size > 100000) {
        fprintf(stderr, "bus_bench: bad COUNT or SIZE\n");
        return 2;
    }
    struct store *pub = NULL, *sub = NULL;
    if (store_open(argv[1], NULL, &pub) < 0 || store_migrate(pub) < 0 ||
        store_open(argv[1], NULL, &sub) < 0) {
        fprintf(stderr, "bus_bench: cannot open %s\n", argv[1]);
        return 1;
    }
    store_set_bus_hook(sub, on_bus, NULL);
    char *msg = malloc((size_t)size);
    memset(msg, 'm', (size_t)size);
    double t0 = now_s();
    for (long i = 0; i < count; i++) {
        store_bus_publish(pub, msg, (size_t)size);
        /* Stay under the queue bound (16 MiB): this measures carrying, not dropping. */
        struct store_bus_stats st;
        if (i % 1000 == 0) {
            for (store_bus_stats(pub, &st); st.queue_bytes > (8u << 20);
                 store_bus_stats(pub, &st)) {
                usleep(1000);
            }
        }
    }
    double t_pub = now_s();
    while (atomic_load(&received) < count && now_s() - t0 < 60) {
        usleep(1000);
    }
    double t1 = now_s();
    struct store_bus_stats st;
    store_bus_stats(pub, &st);
    long got = atomic_load(&received);
    printf("bus: %ld messages of %ld bytes: received %ld in %.3f s = %.0f msg/s (publishing took "
           "%.3f s); notifies %llu (%.1f messages each), dropped %llu\n",
           count, size, got, t1 - t0, (double)got / (t1 - t0), t_pub - t0,
           (unsigned long long)st.notifies, st.notifies ? (double)count / (double)st.notifies : 0,
           (unsigned long long)st.dropped);
    store_set_bus_hook(sub, NULL, NULL);
    store_free(sub);
    store_free(pub);
    free(msg);
    return got == count ? 0 : 1;
}
