/* One lookup's state, shared by the flow (lookup.c) and the public calls that start it
 * (lookup_calls.c). Not part of any other file's contract. */
#ifndef PAPI_LOOKUP_H
#define PAPI_LOOKUP_H

#include "core.h"

enum { S_PENDING = 0, S_FOUND, S_ABSENT };

typedef struct slot {
    papi_key ckey; /* "<dataset>:<shape-hash>:<id>" */
    papi_key id;   /* normalized: the end of ckey (the parsed ids are gone once it is written) */
    papi_blob *row;
    papi_blob *stale; /* an expired copy a tier still had */
    papi__flight *flight;
    papi_status failed; /* the source's failure for this id, when it led it */
    int state;
    bool lead;
} slot;

/* One lookup's state. The arrays are one scratch block: on the stack for a small request that
 * completes in one call, in the papi_pending's own allocation for one that is handed over. */
typedef struct lookup {
    papi_client *c;
    const papi_dataset *ds;
    size_t m;              /* distinct ids asked */
    size_t left;           /* ids no tier has answered yet */
    size_t next_tier;      /* tiers above it were read (papi_lookup_begin read the first) */
    size_t hits, negative; /* counted when the lookup ends */
    slot *slots;
    slot **led;
    papi__want *want;
    papi_key *keys;
    papi_cache_entry *ents;
    size_t *idx;
    papi_blob **rows;
    papi__select sel;
    size_t sel_bytes; /* its scratch */
    char *kbytes;  /* the cache keys' bytes */
    char *scratch; /* the block the arrays are in */
    size_t scratch_size;
    papi_cache_outcome outcome;
    int64_t deadline_ms;
    void *heap;      /* the scratch block when it did not fit the stack */
} lookup;

/* Asks tiers next_tier .. to-1 in turn for the ids no tier has answered. */
void papi__lookup_read_tiers(lookup *lk, size_t to);
/* Everything after the tiers already read: the others, then the source. May block. */
papi_status papi__lookup_rest(lookup *lk, papi_error *err);
/* The answer in asked order when st is PAPI_OK (cut to the selected columns), every reference
 * the lookup held released, the lookup counted and closed. Returns st or ENOMEM/EPROTO. */
papi_status papi__lookup_end(lookup *lk, papi_status st, papi_result **out, papi_error *err);
/* Frees the heap scratch. */
void papi__lookup_close(lookup *lk);
/* Drops the rows and stale copies the slots hold, then closes: a lookup given up. */
void papi__lookup_release(lookup *lk);

#endif /* PAPI_LOOKUP_H */
