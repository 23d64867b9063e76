/*
 * selftest.c - `cowtree-sim --self-test`: unit checks of the pure modules,
 * run before anything trusts them (ci/sim.sh runs it first).
 *   - tools/prng/prng.c: known answers (pinned, so a change of the stream, which would
 *     silently change every seed's meaning, is noticed), bounds, ratios;
 *   - model.c: 20,000 random puts/deletes against a naive reference, digests
 *     of copies, lower bounds;
 *   - opgen.c: determinism and prefix stability;
 *   - trace.c: replay lines and outcomes round-trip.
 * Pure: no engine calls.
 */
#include <inttypes.h>
#include <string.h>

#include "sim.h"

static int failures;

#define EXPECT(cond)                                                                       \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "self-test: %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

static void test_prng(void)
{
    prng r;
    prng_seed(&r, 1);
    uint64_t a = prng_next(&r);
    uint64_t b = prng_next(&r);
    EXPECT(a == 0xf9d20113ec80c6d5ull);
    EXPECT(b == 0xd16e236e5cdc6563ull);
    EXPECT(prng_mix64(0) == 0xe220a8397b1dcdafull);
    EXPECT(prng_hash_bytes("", 0, 0) == prng_hash_bytes("", 0, 0));
    EXPECT(prng_hash_bytes("abc", 3, 0) != prng_hash_bytes("abd", 3, 0));
    EXPECT(prng_hash_bytes("abcdefghi", 9, 0) != prng_hash_bytes("abcdefghj", 9, 0));
    int seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t x = prng_below(&r, 7);
        EXPECT(x < 7);
        seen[x < 7 ? x : 0]++;
    }
    for (int i = 0; i < 7; i++) {
        EXPECT(seen[i] > 800 && seen[i] < 1200);
    }
    EXPECT(prng_chance(&r, 0, 0) == 0);
    EXPECT(prng_chance(&r, 1, 1) == 1);
    EXPECT(prng_range(&r, 5, 5) == 5);
    uint32_t w[3] = {0, 5, 0};
    EXPECT(prng_pick(&r, w, 3) == 1);
    uint8_t v1[100];
    uint8_t v2[100];
    prng_fill_value(9, v1, 100);
    prng_fill_value(9, v2, 100);
    EXPECT(memcmp(v1, v2, 100) == 0);
}

/* The reference: unsorted keys 0..255 (one byte each) with a value seed. */
static void test_model(void)
{
    static uint8_t keys[256];
    int64_t ref[256];
    for (int i = 0; i < 256; i++) {
        keys[i] = (uint8_t)i;
        ref[i] = -1;
    }
    sim_state *s = sim_state_new();
    prng r;
    prng_seed(&r, 77);
    for (int i = 0; i < 20000; i++) {
        int k = (int)prng_below(&r, 256);
        if (prng_chance(&r, 2, 3)) {
            sim_entry e = {&keys[k], 1, (uint32_t)i, (uint64_t)i, (uint64_t)i * 31};
            sim_state_put(s, 0, &e);
            ref[k] = i;
        } else {
            EXPECT(sim_state_del(s, 0, &keys[k], 1) == (ref[k] >= 0));
            ref[k] = -1;
        }
    }
    size_t n = 0;
    for (int k = 0; k < 256; k++) {
        const sim_entry *e = sim_bmap_get(&s->b[0], &keys[k], 1);
        EXPECT((e != NULL) == (ref[k] >= 0));
        EXPECT(!e || e->vseed == (uint64_t)ref[k]);
        n += ref[k] >= 0;
    }
    EXPECT(s->b[0].count == n);
    for (size_t i = 1; i < s->b[0].count; i++) {
        EXPECT(sim_key_cmp(s->b[0].v[i - 1].key, 1, s->b[0].v[i].key, 1) < 0);
    }
    sim_state *c = sim_state_copy(s);
    EXPECT(sim_state_digest(c) == sim_state_digest(s));
    sim_state_create(c, 2);
    EXPECT(sim_state_digest(c) != sim_state_digest(s));
    sim_state_drop(c, 2);
    EXPECT(sim_state_digest(c) == sim_state_digest(s));
    uint8_t empty = 0;
    EXPECT(sim_key_cmp(&empty, 0, keys, 1) < 0);
    EXPECT(sim_bmap_lower(&s->b[0], &empty, 0, NULL) == 0);
    sim_state_unref(c);
    sim_state_unref(s);
}

static int same_ops(const sim_workload *a, const sim_workload *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const sim_op *x = &a->ops[i];
        const sim_op *y = &b->ops[i];
        if (x->kind != y->kind || x->b != y->b || x->arg != y->arg || x->klen != y->klen ||
            x->vlen != y->vlen || x->vseed != y->vseed ||
            sim_key_cmp(x->key, x->klen, y->key, y->klen) != 0) {
            return 0;
        }
    }
    return 1;
}

static void test_opgen(void)
{
    for (int swarm = 0; swarm < 2; swarm++) {
        sim_gen_config g = {99, 30, 95, 512, CT_SYNC_NONE, swarm, -1};
        sim_workload a;
        sim_workload b;
        sim_workload c;
        sim_workload_gen(&g, &a);
        sim_workload_gen(&g, &b);
        g.txns = 17;
        sim_workload_gen(&g, &c);
        EXPECT(a.count == b.count && same_ops(&a, &b, a.count));
        EXPECT(sim_workload_digest(&a) == sim_workload_digest(&b));
        EXPECT(c.count == a.txn_first[17] && same_ops(&a, &c, c.count));
        EXPECT(a.txns == 30 && c.txns == 17);
        sim_workload_truncate(&a, 17);
        EXPECT(sim_workload_digest(&a) == sim_workload_digest(&c));
        sim_workload_free(&a);
        sim_workload_free(&b);
        sim_workload_free(&c);
    }
}

static void test_replay(void)
{
    sim_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.seed = 0xdeadbeef;
    cfg.txns = 12;
    cfg.page_size = 1024;
    cfg.durability = CT_SYNC_NONE;
    cfg.enable_map = 1;
    cfg.cache_pages = 8;
    cfg.subset_max = 10;
    cfg.faults = (1u << SIM_F_LOST_WRITE) | (1u << SIM_F_ALLOC);
    cfg.fault_rounds = 3;
    cfg.stable_cursor_pct = 50;
    sim_case c;
    memset(&c, 0, sizeof(c));
    c.phase = SIM_PHASE_CRASH;
    c.seg = 4;
    c.cut = 77;
    c.out.mode = CT_CRASH_TEAR_ONE;
    c.out.index = 3;
    c.out.seed = 0x1234;
    c.level2 = 1;
    c.cut2 = 5;
    c.out2.mode = CT_CRASH_SUBSET;
    c.out2.mask = 0x15;
    char line[1024];
    sim_replay_format(&cfg, NULL, &c, line, sizeof(line));
    sim_config back;
    memset(&back, 0, sizeof(back));
    sim_case cb;
    char *drops = NULL;
    EXPECT(sim_replay_parse(line, &back, &cb, &drops) == 0);
    EXPECT(back.seed == cfg.seed && back.txns == cfg.txns && back.page_size == 1024);
    EXPECT(back.durability == CT_SYNC_NONE && back.faults == cfg.faults);
    EXPECT(back.stable_cursor_pct == 50 && back.fault_rounds == 3);
    EXPECT(cb.phase == c.phase && cb.seg == 4 && cb.cut == 77 && cb.level2 && cb.cut2 == 5);
    EXPECT(cb.out.mode == CT_CRASH_TEAR_ONE && cb.out.index == 3 && cb.out.seed == 0x1234);
    EXPECT(cb.out2.mode == CT_CRASH_SUBSET && cb.out2.mask == 0x15);
    free(drops);
    uint64_t s = 0;
    EXPECT(sim_seed_parse("0x10", &s) == 0 && s == 16);
    EXPECT(sim_seed_parse("8b62316aa5f0b1c2d3e4f5a6b7c8d9e0f1a2b3c4", &s) == 0);
    EXPECT(sim_seed_parse("12x", &s) != 0);
    uint64_t s2 = 0;
    EXPECT(sim_seed_parse("0x8b62316aa5f0b1c2d3e4f5a6b7c8d9e0f1a2b3c4", &s2) == 0);
    EXPECT(sim_seed_parse("8b62316aa5f0b1c2d3e4f5a6b7c8d9e0f1a2b3c4", &s) == 0 && s == s2);
    EXPECT(sim_seed_parse("0x1234567890abcdef12", &s) != 0); /* too big */
    unsigned m = 0;
    EXPECT(sim_faults_parse("bit_rot,alloc", &m) == 0 &&
           m == ((1u << SIM_F_BIT_ROT) | (1u << SIM_F_ALLOC)));
    EXPECT(sim_faults_parse("bogus", &m) != 0);
}

int sim_self_test(void)
{
    failures = 0;
    test_prng();
    test_model();
    test_opgen();
    test_replay();
    printf("self-test: %s (%d failure%s)\n", failures ? "FAILED" : "passed", failures,
           failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
