/*
 * trace.c - seeds, crash outcomes and replay lines as text.
 *
 * A replay line names everything a case depends on, so that
 * `cowtree-sim --replay "LINE"` reruns exactly that case on any machine:
 *   seed=0x.. txns=N dur=full|none ps=512 map=0|1 cache=N swarm=0|1
 *   subset=N faults=LIST rounds=N sweep-txns=N stable=N
 *   phase=golden|crash|sweep|faults
 *   [seg=N] [cut=N] [out=OUTCOME] [deep=1] [meta=1|2|3] [l2cut=N l2out=OUTCOME]
 *   [kind=read|write|sync|resize|alloc sticky=0|1] [drop=3-7,12]
 * OUTCOME: drop | keep | subset:0xMASK | omit:I | tear:I:0xSEED | random:0xSEED.
 * The trace hash itself is accumulated by the modules (prng_hash_u64 over
 * engine return codes, matched commits, outcomes and the store's own op
 * hash); this file only gives it a textual form.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static const char *const phase_names[SIM_PHASES] = {"golden", "crash", "sweep", "faults"};

int sim_seed_parse(const char *s, uint64_t *seed)
{
    const char *hex = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? s + 2 : s;
    size_t n = strlen(hex);
    if (n == 40) {
        uint64_t h = 0x636f6d6d6974ull; /* a commit id: fold its 160 bits */
        for (size_t i = 0; i < n; i++) {
            if (!isxdigit((unsigned char)hex[i])) {
                return -1;
            }
            h = prng_hash_u64(h, (uint64_t)tolower((unsigned char)hex[i]));
        }
        *seed = h;
        return 0;
    }
    if (*s == 0 || *s == '-') {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end != 0 || errno == ERANGE) {
        return -1;
    }
    *seed = (uint64_t)v;
    return 0;
}

void sim_outcome_format(const ct_crash_outcome *o, char *out, size_t cap)
{
    switch (o->mode) {
    case CT_CRASH_KEEP_ALL:
        snprintf(out, cap, "keep");
        break;
    case CT_CRASH_SUBSET:
        snprintf(out, cap, "subset:0x%" PRIx64, o->mask);
        break;
    case CT_CRASH_OMIT_ONE:
        snprintf(out, cap, "omit:%u", o->index);
        break;
    case CT_CRASH_TEAR_ONE:
        snprintf(out, cap, "tear:%u:0x%" PRIx64, o->index, o->seed);
        break;
    case CT_CRASH_RANDOM:
        snprintf(out, cap, "random:0x%" PRIx64, o->seed);
        break;
    default:
        snprintf(out, cap, "drop");
        break;
    }
}

int sim_outcome_parse(const char *s, ct_crash_outcome *o)
{
    memset(o, 0, sizeof(*o));
    char *end = NULL;
    if (strcmp(s, "drop") == 0) {
        o->mode = CT_CRASH_DROP_ALL;
    } else if (strcmp(s, "keep") == 0) {
        o->mode = CT_CRASH_KEEP_ALL;
    } else if (strncmp(s, "subset:", 7) == 0) {
        o->mode = CT_CRASH_SUBSET;
        o->mask = strtoull(s + 7, &end, 0);
    } else if (strncmp(s, "omit:", 5) == 0) {
        o->mode = CT_CRASH_OMIT_ONE;
        o->index = (uint32_t)strtoul(s + 5, &end, 0);
    } else if (strncmp(s, "tear:", 5) == 0) {
        o->mode = CT_CRASH_TEAR_ONE;
        o->index = (uint32_t)strtoul(s + 5, &end, 0);
        if (*end != ':') {
            return -1;
        }
        o->seed = strtoull(end + 1, &end, 0);
    } else if (strncmp(s, "random:", 7) == 0) {
        o->mode = CT_CRASH_RANDOM;
        o->seed = strtoull(s + 7, &end, 0);
    } else {
        return -1;
    }
    return (end && *end) ? -1 : 0;
}

static size_t add(char *out, size_t cap, size_t o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t add(char *out, size_t cap, size_t o, const char *fmt, ...)
{
    if (o >= cap) {
        return o;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + o, cap - o, fmt, ap);
    va_end(ap);
    return n < 0 ? o : o + (size_t)n;
}

/* The drop list of a workload's inactive ops: "3-7,12". */
static size_t format_drops(const sim_workload *wl, char *out, size_t cap, size_t o)
{
    int first = 1;
    for (size_t i = 0; wl && i < wl->count; i++) {
        if (wl->active[i]) {
            continue;
        }
        size_t j = i;
        while (j + 1 < wl->count && !wl->active[j + 1]) {
            j++;
        }
        o = add(out, cap, o, "%s", first ? " drop=" : ",");
        o = j > i ? add(out, cap, o, "%zu-%zu", i, j) : add(out, cap, o, "%zu", i);
        first = 0;
        i = j;
    }
    return o;
}

void sim_replay_format(const sim_config *cfg, const sim_workload *wl, const sim_case *c,
                       char *out, size_t cap)
{
    char faults[160];
    char oc[64];
    sim_faults_format(cfg->faults, faults, sizeof(faults));
    size_t o = add(out, cap, 0,
                   "seed=0x%" PRIx64 " txns=%u dur=%s ps=%u map=%d cache=%u autosync=%u "
                   "swarm=%d subset=%u faults=%s rounds=%u sweep-txns=%u stable=%d phase=%s",
                   cfg->seed, cfg->txns, sim_durability_name(cfg->durability),
                   cfg->page_size, cfg->enable_map, cfg->cache_pages, cfg->autosync_pages,
                   cfg->swarm, cfg->subset_max,
                   faults, cfg->fault_rounds, cfg->sweep_txns, cfg->stable_cursor_pct,
                   phase_names[c->phase]);
    if (c->phase == SIM_PHASE_CRASH || c->phase == SIM_PHASE_SWEEP ||
        c->phase == SIM_PHASE_FAULTS) {
        o = add(out, cap, o, " seg=%" PRIu32, c->seg);
    }
    if (c->phase == SIM_PHASE_CRASH || c->phase == SIM_PHASE_SWEEP) {
        o = c->cut == UINT64_MAX ? add(out, cap, o, " cut=none")
                                 : add(out, cap, o, " cut=%" PRIu64, c->cut);
    }
    if (c->phase == SIM_PHASE_CRASH) {
        sim_outcome_format(&c->out, oc, sizeof(oc));
        o = add(out, cap, o, " out=%s", oc);
        if (c->deep) {
            o = add(out, cap, o, " deep=1");
        }
        if (c->meta_damage) {
            o = add(out, cap, o, " meta=%d", c->meta_damage);
        }
        if (c->level2) {
            sim_outcome_format(&c->out2, oc, sizeof(oc));
            o = add(out, cap, o, " l2cut=%" PRIu64 " l2out=%s", c->cut2, oc);
        }
    }
    if (c->phase == SIM_PHASE_SWEEP) {
        o = add(out, cap, o, " kind=%s sticky=%d", sim_sweep_name(c->sweep_kind),
                c->sweep_sticky);
    }
    format_drops(wl, out, cap, o);
}

static int parse_token(const char *k, const char *v, sim_config *cfg, sim_case *c, char **drops)
{
    char *end = NULL;
    if (strcmp(k, "seed") == 0) {
        return sim_seed_parse(v, &cfg->seed);
    } else if (strcmp(k, "txns") == 0) {
        cfg->txns = (uint32_t)strtoul(v, &end, 0);
    } else if (strcmp(k, "dur") == 0) {
        cfg->durability = strcmp(v, "none") == 0    ? CT_SYNC_NONE
                          : strcmp(v, "group") == 0 ? CT_SYNC_GROUP
                                                    : CT_SYNC_FULL;
    } else if (strcmp(k, "ps") == 0) {
        cfg->page_size = (uint32_t)strtoul(v, &end, 0);
    } else if (strcmp(k, "map") == 0) {
        cfg->enable_map = atoi(v);
    } else if (strcmp(k, "cache") == 0) {
        cfg->cache_pages = (uint32_t)strtoul(v, &end, 0);
    } else if (strcmp(k, "autosync") == 0) {
        cfg->autosync_pages = (uint32_t)strtoul(v, &end, 0);
    } else if (strcmp(k, "swarm") == 0) {
        cfg->swarm = atoi(v);
    } else if (strcmp(k, "subset") == 0) {
        cfg->subset_max = (uint32_t)strtoul(v, &end, 0);
    } else if (strcmp(k, "faults") == 0) {
        return sim_faults_parse(v, &cfg->faults);
    } else if (strcmp(k, "rounds") == 0) {
        cfg->fault_rounds = (uint32_t)strtoul(v, &end, 0);
    } else if (strcmp(k, "sweep-txns") == 0) {
        cfg->sweep_txns = (uint32_t)strtoul(v, &end, 0);
    } else if (strcmp(k, "stable") == 0) {
        cfg->stable_cursor_pct = atoi(v);
    } else if (strcmp(k, "phase") == 0) {
        for (int p = 0; p < SIM_PHASES; p++) {
            if (strcmp(v, phase_names[p]) == 0) {
                c->phase = p;
                return 0;
            }
        }
        return -1;
    } else if (strcmp(k, "seg") == 0) {
        c->seg = (uint32_t)strtoul(v, &end, 0);
    } else if (strcmp(k, "cut") == 0) {
        c->cut = strcmp(v, "none") == 0 ? UINT64_MAX : strtoull(v, &end, 0);
    } else if (strcmp(k, "out") == 0) {
        return sim_outcome_parse(v, &c->out);
    } else if (strcmp(k, "deep") == 0) {
        c->deep = atoi(v);
    } else if (strcmp(k, "meta") == 0) {
        c->meta_damage = atoi(v);
    } else if (strcmp(k, "l2cut") == 0) {
        c->level2 = 1;
        c->cut2 = strtoull(v, &end, 0);
    } else if (strcmp(k, "l2out") == 0) {
        return sim_outcome_parse(v, &c->out2);
    } else if (strcmp(k, "kind") == 0) {
        for (int s = 0; s < SIM_SWEEP_KINDS; s++) {
            if (strcmp(v, sim_sweep_name(s)) == 0) {
                c->sweep_kind = s;
                return 0;
            }
        }
        return -1;
    } else if (strcmp(k, "sticky") == 0) {
        c->sweep_sticky = atoi(v);
    } else if (strcmp(k, "drop") == 0) {
        free(*drops);
        *drops = strdup(v);
    } else {
        return -1;
    }
    return (end && *end) ? -1 : 0;
}

int sim_replay_parse(const char *line, sim_config *cfg, sim_case *c, char **drops)
{
    char *copy = strdup(line);
    char *save = NULL;
    int rc = 0;
    memset(c, 0, sizeof(*c));
    for (char *tok = strtok_r(copy, " \t\n", &save); tok && rc == 0;
         tok = strtok_r(NULL, " \t\n", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            rc = -1;
            break;
        }
        *eq = 0;
        rc = parse_token(tok, eq + 1, cfg, c, drops);
        if (rc != 0) {
            fprintf(stderr, "cowtree-sim: bad replay token %s=%s\n", tok, eq + 1);
        }
    }
    free(copy);
    return rc;
}

int sim_drops_apply(sim_workload *wl, const char *drops)
{
    const char *p = drops;
    while (p && *p) {
        char *end = NULL;
        unsigned long long a = strtoull(p, &end, 10);
        unsigned long long b = a;
        if (end == p) {
            return -1;
        }
        if (*end == '-') {
            p = end + 1;
            b = strtoull(p, &end, 10);
        }
        for (unsigned long long i = a; i <= b && i < wl->count; i++) {
            wl->active[i] = 0;
        }
        p = end;
        if (*p == ',') {
            p++;
        } else if (*p) {
            return -1;
        }
    }
    return 0;
}

const char *sim_durability_name(int durability)
{
    return durability == CT_SYNC_NONE ? "none" : durability == CT_SYNC_GROUP ? "group" : "full";
}
