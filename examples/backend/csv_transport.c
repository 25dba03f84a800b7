/* The csv transport (csv_transport.h): a whole file parsed at open into one block of unescaped
 * fields, immutable afterwards, so any number of threads may fetch at once without a lock. What
 * a fetch needs per dataset (where its columns are in the file, an index of its key column) is
 * built at the dataset's first fetch, under the one mutex, and then only read. */
#include "csv_transport.h"

#include <papi/papi.h>
#include <papi/papi_backend.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A header row wider than this is a mistake (a binary file, the wrong delimiter). */
#define CSV_MAX_COLUMNS 1024

/* ------------------------------------------------------------- options */

static papi_status check_delimiter(const papi_option *opt, const char *value, papi_error *err)
{
    unsigned char c = (unsigned char)value[0];
    /* the message names the key, never the value (papi.h: it might be a secret elsewhere) */
    if (c == 0 || value[1] != '\0' || c >= 0x80 || c == '"' || c == '\r' || c == '\n')
        return papi_error_set(err, PAPI_ECONFIG,
                              "%s: one ASCII character is required, not a quote or a line break",
                              opt->key);
    return PAPI_OK;
}

static const papi_option csv_options[] = {
    {.key = "csv-delimiter",
     .env = "PAPI_CSV_DELIMITER",
     .type = PAPI_OPTION_TEXT,
     .def = ",",
     .help = "the character between the fields of the csv transport's file",
     .check = check_delimiter},
    {.key = "csv-max-bytes",
     .env = "PAPI_CSV_MAX_BYTES",
     .type = PAPI_OPTION_INT,
     .def = "67108864",
     .min = 1,
     .max = 1073741824,
     .help = "the largest file the csv transport loads, in bytes"},
};

/* ------------------------------------------------------------- the file */

typedef struct csv_cell {
    const char *ptr; /* NULL: SQL NULL (an empty unquoted field) */
    size_t len;
} csv_cell;

/* A dataset's view of the file, built at its first fetch. Datasets are immutable while the
 * client lives, so the dataset pointer names it. */
typedef struct csv_view {
    const papi_dataset *ds;
    size_t *column; /* the file's column for each of the dataset's */
    uint32_t *slot; /* open addressing over the key column: record + 1, 0 when empty */
    size_t mask;
    struct csv_view *next;
} csv_view;

typedef struct csv_state {
    const papi_host *host;
    char *store;     /* every field, unescaped, back to back */
    csv_cell *cells; /* row-major, the header row first */
    size_t ncolumns, nrecords;
    pthread_mutex_t lock; /* guards views; held while one is built, never while rows go out */
    csv_view *views;
} csv_state;

static const csv_cell *record(const csv_state *st, size_t r)
{
    return st->cells + (r + 1) * st->ncolumns;
}

/* Column names are matched with ASCII case ignored (strncasecmp would follow the locale). */
static int same_name(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'a' && x <= 'z')
            x = (unsigned char)(x - 'a' + 'A');
        if (y >= 'a' && y <= 'z')
            y = (unsigned char)(y - 'a' + 'A');
        if (x != y)
            return 0;
    }
    return 1;
}

/* Parsing state: fields are unescaped into out, which never outgrows the input. */
typedef struct parser {
    const char *in;
    size_t len, pos, line;
    char delim;
    char *out;
    size_t used;
    csv_cell *cells;
    size_t ncells, cap;
    const char *path;
} parser;

static int push_cell(parser *p, csv_cell c)
{
    if (p->ncells == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        csv_cell *grown = realloc(p->cells, cap * sizeof *grown);
        if (!grown)
            return 0;
        p->cells = grown;
        p->cap = cap;
    }
    p->cells[p->ncells++] = c;
    return 1;
}

/* At a line break (LF, CRLF, a CR that ends the file) or the end of the input. */
static int at_record_end(const parser *p)
{
    if (p->pos >= p->len || p->in[p->pos] == '\n')
        return 1;
    return p->in[p->pos] == '\r' && (p->pos + 1 == p->len || p->in[p->pos + 1] == '\n');
}

/* One field at p->pos: appended to p->cells, p->pos left on what ends it. */
static papi_status parse_field(parser *p, papi_error *err)
{
    char *start = p->out + p->used;
    if (p->pos < p->len && p->in[p->pos] == '"') {
        size_t opened = p->line;
        for (p->pos++;; p->pos++) {
            if (p->pos >= p->len)
                return papi_error_set(err, PAPI_ECONFIG,
                                      "csv: %s: line %zu: a quoted field does not end", p->path,
                                      opened);
            char c = p->in[p->pos];
            if (c == '"' && !(p->pos + 1 < p->len && p->in[p->pos + 1] == '"'))
                break;
            if (c == '"')
                p->pos++; /* a doubled quote stands for one */
            if (c == '\n')
                p->line++;
            p->out[p->used++] = c;
        }
        p->pos++;
        if (!at_record_end(p) && p->in[p->pos] != p->delim)
            return papi_error_set(err, PAPI_ECONFIG,
                                  "csv: %s: line %zu: text follows a closing quote", p->path,
                                  p->line);
        return push_cell(p, (csv_cell){start, (size_t)(p->out + p->used - start)})
                   ? PAPI_OK
                   : papi_error_set(err, PAPI_ENOMEM, "csv: out of memory");
    }
    while (p->pos < p->len) {
        char c = p->in[p->pos];
        if (c == p->delim || at_record_end(p))
            break;
        if (c == '"')
            return papi_error_set(err, PAPI_ECONFIG,
                                  "csv: %s: line %zu: a quote inside an unquoted field", p->path,
                                  p->line);
        p->out[p->used++] = c;
        p->pos++;
    }
    size_t n = (size_t)(p->out + p->used - start);
    return push_cell(p, (csv_cell){n ? start : NULL, n})
               ? PAPI_OK
               : papi_error_set(err, PAPI_ENOMEM, "csv: out of memory");
}

/* One record: its fields, then the line break that ends it. *nfields says how many it had. */
static papi_status parse_record(parser *p, size_t *nfields, papi_error *err)
{
    size_t first = p->ncells;
    for (;;) {
        if (p->ncells - first == CSV_MAX_COLUMNS)
            return papi_error_set(err, PAPI_ECONFIG, "csv: %s: line %zu: more than %d fields",
                                  p->path, p->line, CSV_MAX_COLUMNS);
        papi_status s = parse_field(p, err);
        if (s != PAPI_OK)
            return s;
        if (p->pos < p->len && p->in[p->pos] == p->delim) {
            p->pos++;
            continue;
        }
        break;
    }
    if (p->pos < p->len && p->in[p->pos] == '\r')
        p->pos++;
    if (p->pos < p->len && p->in[p->pos] == '\n')
        p->pos++;
    p->line++;
    *nfields = p->ncells - first;
    return PAPI_OK;
}

/* The header's names must be usable: present and distinct (case ignored, as they are matched). */
static papi_status check_header(const parser *p, size_t ncolumns, papi_error *err)
{
    for (size_t i = 0; i < ncolumns; i++) {
        const csv_cell *c = &p->cells[i];
        if (!c->ptr)
            return papi_error_set(err, PAPI_ECONFIG,
                                  "csv: %s: column %zu of the header has no name", p->path, i + 1);
        for (size_t j = 0; j < i; j++)
            if (same_name(p->cells[j].ptr, p->cells[j].len, c->ptr, c->len))
                return papi_error_set(err, PAPI_ECONFIG,
                                      "csv: %s: columns %zu and %zu of the header have one name",
                                      p->path, j + 1, i + 1);
    }
    return PAPI_OK;
}

static papi_status parse(csv_state *st, const char *path, const char *text, size_t len, char delim,
                         papi_error *err)
{
    parser p = {.in = text, .len = len, .line = 1, .delim = delim, .path = path};
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        p.pos = 3; /* the byte order mark spreadsheets write */
    p.out = malloc(len + 1);
    if (!p.out)
        return papi_error_set(err, PAPI_ENOMEM, "csv: out of memory");
    size_t ncolumns = 0, nrecords = 0;
    papi_status s = PAPI_OK;
    while (s == PAPI_OK && p.pos < p.len) {
        size_t line = p.line, nfields = 0, before = p.ncells;
        if ((s = parse_record(&p, &nfields, err)) != PAPI_OK)
            break;
        if (nfields == 1 && !p.cells[before].ptr) {
            p.ncells = before; /* a blank line */
        } else if (ncolumns == 0) {
            ncolumns = nfields;
            s = check_header(&p, ncolumns, err);
        } else if (nfields != ncolumns) {
            s = papi_error_set(err, PAPI_ECONFIG,
                               "csv: %s: line %zu has %zu fields, the header has %zu", path, line,
                               nfields, ncolumns);
        } else if (++nrecords == UINT32_MAX) {
            s = papi_error_set(err, PAPI_ECONFIG, "csv: %s: too many rows", path);
        }
    }
    if (s == PAPI_OK && ncolumns == 0)
        s = papi_error_set(err, PAPI_ECONFIG, "csv: %s: no header row", path);
    if (s != PAPI_OK) {
        free(p.out);
        free(p.cells);
        return s;
    }
    st->store = p.out;
    st->cells = p.cells;
    st->ncolumns = ncolumns;
    st->nrecords = nrecords;
    return PAPI_OK;
}

/* The whole file, refused past max bytes (checked while reading: the file may grow). */
static papi_status read_file(const char *path, int64_t max, char **text, size_t *len,
                             papi_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return papi_error_set(err, PAPI_ECONFIG, "csv: cannot open %s: %s", path, strerror(errno));
    papi_buf b;
    papi_buf_init(&b);
    char chunk[65536];
    size_t got;
    while (b.len <= (size_t)max && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        papi_buf_append(&b, chunk, got);
    int failed = ferror(f);
    fclose(f);
    papi_status s = PAPI_OK;
    if (failed)
        s = papi_error_set(err, PAPI_ECONFIG, "csv: cannot read %s", path);
    else if (b.len > (size_t)max)
        s = papi_error_set(err, PAPI_ECONFIG, "csv: %s is larger than csv-max-bytes (%lld)", path,
                           (long long)max);
    else if (b.oom)
        s = papi_error_set(err, PAPI_ENOMEM, "csv: out of memory");
    if (s != PAPI_OK) {
        papi_buf_free(&b);
        return s;
    }
    *len = b.len;
    *text = papi_buf_steal(&b, NULL); /* "" for an empty file */
    return *text ? PAPI_OK : papi_error_set(err, PAPI_ENOMEM, "csv: out of memory");
}

/* ------------------------------------------------------------- keys */

/* A number key as the client sends it (papi_backend.h: no leading zeros), so that "0042" and
 * "42.0" in the file meet the id 42. Text keys are compared as they are. */
static papi_key normal_key(papi_key_type type, const char *p, size_t n)
{
    if (type != PAPI_KEY_NUMBER)
        return (papi_key){p, n};
    const char *dot = memchr(p, '.', n);
    if (dot) {
        size_t i = (size_t)(dot - p) + 1;
        while (i < n && p[i] == '0')
            i++;
        if (i == n)
            n = (size_t)(dot - p);
    }
    while (n > 1 && p[0] == '0') {
        p++;
        n--;
    }
    return (papi_key){p, n};
}

static size_t probe(const csv_state *st, const csv_view *v, size_t keycol, papi_key_type type,
                    papi_key k)
{
    size_t j = (size_t)papi_hash64(PAPI_HASH64_SEED, k.ptr, k.len) & v->mask;
    for (; v->slot[j]; j = (j + 1) & v->mask) {
        const csv_cell *c = &record(st, v->slot[j] - 1)[keycol];
        papi_key have = normal_key(type, c->ptr, c->len);
        if (have.len == k.len && memcmp(have.ptr, k.ptr, k.len) == 0)
            break;
    }
    return j;
}

/* ------------------------------------------------------------- views */

static void view_free(csv_view *v)
{
    if (!v)
        return;
    free(v->column);
    free(v->slot);
    free(v);
}

/* Finds each of the dataset's columns in the header, then indexes the key column (the first
 * row of a repeated key wins). */
static papi_status view_build(csv_state *st, const papi_dataset *ds, csv_view **out,
                              papi_error *err)
{
    size_t ncols = papi_dataset_column_count(ds);
    csv_view *v = calloc(1, sizeof *v);
    if (!v || !(v->column = calloc(ncols, sizeof *v->column))) {
        view_free(v);
        return papi_error_set(err, PAPI_ENOMEM, "csv: out of memory");
    }
    v->ds = ds;
    for (size_t i = 0; i < ncols; i++) {
        const char *name = papi_dataset_column_name(ds, i);
        size_t j = 0;
        while (j < st->ncolumns &&
               !same_name(st->cells[j].ptr, st->cells[j].len, name, strlen(name)))
            j++;
        if (j == st->ncolumns) {
            view_free(v);
            /* configured names only: never a value from the file or an id */
            return papi_error_set(err, PAPI_ESOURCE, "csv: the file has no column %s (dataset %s)",
                                  name, papi_dataset_name(ds));
        }
        v->column[i] = j;
    }
    size_t cap = 16;
    while (cap < st->nrecords * 2)
        cap *= 2;
    if (!(v->slot = calloc(cap, sizeof *v->slot))) {
        view_free(v);
        return papi_error_set(err, PAPI_ENOMEM, "csv: out of memory");
    }
    v->mask = cap - 1;
    size_t keycol = v->column[papi_dataset_key_index(ds)], repeats = 0;
    papi_key_type type = papi_dataset_key_type(ds);
    for (size_t r = 0; r < st->nrecords; r++) {
        const csv_cell *c = &record(st, r)[keycol];
        if (!c->ptr)
            continue; /* a NULL key answers no id */
        size_t j = probe(st, v, keycol, type, normal_key(type, c->ptr, c->len));
        if (v->slot[j])
            repeats++;
        else
            v->slot[j] = (uint32_t)(r + 1);
    }
    if (repeats)
        papi_host_logf(st->host, PAPI_LOG_WARN,
                       "csv: %zu rows repeat a key of dataset %s; the first of each is served",
                       repeats, papi_dataset_name(ds));
    *out = v;
    return PAPI_OK;
}

static papi_status view_get(csv_state *st, const papi_dataset *ds, const csv_view **out,
                            papi_error *err)
{
    papi_status s = PAPI_OK;
    pthread_mutex_lock(&st->lock);
    csv_view *v = st->views;
    while (v && v->ds != ds)
        v = v->next;
    if (!v && (s = view_build(st, ds, &v, err)) == PAPI_OK) {
        v->next = st->views;
        st->views = v;
    }
    pthread_mutex_unlock(&st->lock);
    *out = v;
    return s;
}

/* ------------------------------------------------------------- the table's methods */

static void csv_close(void *state)
{
    csv_state *st = state;
    if (!st)
        return;
    while (st->views) {
        csv_view *next = st->views->next;
        view_free(st->views);
        st->views = next;
    }
    pthread_mutex_destroy(&st->lock);
    free(st->store);
    free(st->cells);
    free(st);
}

static papi_status csv_open(const char *spec, const papi_config *cfg, const papi_host *host,
                            void *user, void **state, papi_error *err)
{
    (void)user;
    *state = NULL;
    if (!spec || strncmp(spec, "csv:", 4) != 0 || spec[4] == '\0')
        return papi_error_set(err, PAPI_ECONFIG, "csv: the source is csv:/path/to/file.csv");
    const char *path = spec + 4;
    /* values were checked against our descriptors when set; cfg is ours during this call only */
    const char *delim = papi_config_get(cfg, "csv-delimiter");
    int64_t max = 0;
    if (!delim || papi_config_get_int(cfg, "csv-max-bytes", &max) != PAPI_OK)
        return papi_error_set(err, PAPI_EINTERNAL, "csv: the csv options are not attached");

    csv_state *st = calloc(1, sizeof *st);
    if (!st)
        return papi_error_set(err, PAPI_ENOMEM, "csv: out of memory");
    st->host = host;
    char *text = NULL;
    size_t len = 0;
    papi_status s = read_file(path, max, &text, &len, err);
    if (s == PAPI_OK)
        s = parse(st, path, text, len, delim[0], err);
    free(text);
    if (s == PAPI_OK && pthread_mutex_init(&st->lock, NULL) != 0)
        s = papi_error_set(err, PAPI_ENOMEM, "csv: cannot create a mutex");
    if (s != PAPI_OK) {
        free(st->store);
        free(st->cells);
        free(st);
        return s;
    }
    papi_host_logf(host, PAPI_LOG_INFO, "csv: loaded %zu rows of %zu columns from %s", st->nrecords,
                   st->ncolumns, path);
    *state = st;
    return PAPI_OK;
}

static papi_status csv_fetch(void *state, const papi_dataset *ds, const papi_key *keys, size_t n,
                             papi_row_sink *sink, int64_t deadline_ms, papi_error *err)
{
    csv_state *st = state;
    if (papi_host_now_ms(st->host) >= deadline_ms)
        return papi_error_set(err, PAPI_ETIMEDOUT, "csv: the deadline passed before the fetch");
    const csv_view *v = NULL;
    papi_status s = view_get(st, ds, &v, err);
    if (s != PAPI_OK)
        return s;
    size_t ncols = papi_dataset_column_count(ds);
    size_t keycol = v->column[papi_dataset_key_index(ds)];
    papi_key_type type = papi_dataset_key_type(ds);
    /* per call: fetch runs on many threads at once */
    const char **cells = malloc(ncols * sizeof *cells);
    size_t *lens = malloc(ncols * sizeof *lens);
    if (!cells || !lens)
        s = papi_error_set(err, PAPI_ENOMEM, "csv: out of memory");
    for (size_t i = 0; s == PAPI_OK && i < n; i++) {
        uint32_t r = v->slot[probe(st, v, keycol, type, keys[i])];
        if (!r)
            continue; /* absent keys produce no row */
        const csv_cell *rec = record(st, r - 1);
        for (size_t c = 0; c < ncols; c++) {
            cells[c] = rec[v->column[c]].ptr;
            lens[c] = rec[v->column[c]].len;
        }
        /* the sink copies the cells and checks them against the column types */
        s = papi_sink_row(sink, cells, lens, ncols, err);
    }
    free(cells);
    free(lens);
    return s;
}

const papi_transport_backend csv_transport = {
    .abi_version = PAPI_TRANSPORT_ABI_VERSION,
    .struct_size = sizeof(papi_transport_backend),
    .name = "csv",
    .flags = 0,
    .open = csv_open,
    .close = csv_close,
    .fetch = csv_fetch,
    .ping = NULL, /* the rows are in memory: always ready */
    .default_concurrency = 0,
    .options = csv_options,
    .noptions = sizeof csv_options / sizeof csv_options[0],
    .detect = NULL,
};
