/* The demo database, a TPC-DS shaped `hybrid_customer` table like the one Snowflake's
 * personalization tutorial creates: the writer and the generator. Generated rows are a pure
 * function of the id (splitmix64 seeded by it), so customer 1885 is the same whatever --rows
 * says, and the same --rows gives byte-identical files with the same SQLite library. */
#include "demo_db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const demo_columns[DEMO_NCOLS] = {
    "C_CUSTOMER_SK",      "C_CUSTOMER_ID",          "C_CURRENT_CDEMO_SK",
    "C_CURRENT_HDEMO_SK", "C_CURRENT_ADDR_SK",      "C_FIRST_SHIPTO_DATE_SK",
    "C_FIRST_SALES_DATE_SK", "C_SALUTATION",        "C_FIRST_NAME",
    "C_LAST_NAME",        "C_PREFERRED_CUST_FLAG",  "C_BIRTH_DAY",
    "C_BIRTH_MONTH",      "C_BIRTH_YEAR",           "C_BIRTH_COUNTRY",
    "C_LOGIN",            "C_EMAIL_ADDRESS",        "C_LAST_REVIEW_DATE",
};

const bool demo_column_is_number[DEMO_NCOLS] = {
    true, false, true, true, true, true, true, false, false,
    false, false, true, true, true, false, false, false, false,
};

/* INTEGER PRIMARY KEY makes the key the rowid: a point lookup is one b-tree descent. */
static const char schema_sql[] =
    "CREATE TABLE " DEMO_TABLE " ("
    "C_CUSTOMER_SK INTEGER PRIMARY KEY NOT NULL, C_CUSTOMER_ID TEXT, "
    "C_CURRENT_CDEMO_SK INTEGER, C_CURRENT_HDEMO_SK INTEGER, C_CURRENT_ADDR_SK INTEGER, "
    "C_FIRST_SHIPTO_DATE_SK INTEGER, C_FIRST_SALES_DATE_SK INTEGER, C_SALUTATION TEXT, "
    "C_FIRST_NAME TEXT, C_LAST_NAME TEXT, C_PREFERRED_CUST_FLAG TEXT, C_BIRTH_DAY INTEGER, "
    "C_BIRTH_MONTH INTEGER, C_BIRTH_YEAR INTEGER, C_BIRTH_COUNTRY TEXT, C_LOGIN TEXT, "
    "C_EMAIL_ADDRESS TEXT, C_LAST_REVIEW_DATE TEXT)";

static const char insert_sql[] =
    "INSERT INTO " DEMO_TABLE " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

/* ------------------------------------------------------------- writer */

static void set_msg(char *msg, size_t cap, const char *fmt, const char *a, const char *b)
{
    if (msg && cap)
        snprintf(msg, cap, fmt, a, b);
}

demo_rc demo_writer_begin(demo_writer *w, const char *path, char *msg, size_t cap)
{
    memset(w, 0, sizeof *w);
    size_t plen = strlen(path);
    w->path = strdup(path);
    w->tmp_path = malloc(plen + sizeof ".tmp-XXXXXX");
    if (!w->path || !w->tmp_path) {
        set_msg(msg, cap, "%s%s", "out of memory", "");
        demo_writer_abort(w);
        return DEMO_EIO;
    }
    memcpy(w->tmp_path, path, plen);
    memcpy(w->tmp_path + plen, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
    int fd = mkstemp(w->tmp_path);
    if (fd < 0) {
        set_msg(msg, cap, "cannot create a file next to %s: %s", path, strerror(errno));
        free(w->tmp_path);
        w->tmp_path = NULL;
        demo_writer_abort(w);
        return DEMO_EIO;
    }
    /* mkstemp makes 0600; a database others read should be readable like any data file */
    (void)fchmod(fd, 0644);
    close(fd);
    int rc = sqlite3_open_v2(w->tmp_path, &w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    /* Nothing to protect while building: a crash leaves only the temporary file. */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(w->db,
                          "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
                          "PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-65536",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(w->db, schema_sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(w->db, "BEGIN", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(w->db, insert_sql, -1, &w->insert, NULL);
    if (rc != SQLITE_OK) {
        set_msg(msg, cap, "cannot build %s: %s", path,
                w->db ? sqlite3_errmsg(w->db) : sqlite3_errstr(rc));
        demo_writer_abort(w);
        return DEMO_EIO;
    }
    return DEMO_OK;
}

demo_rc demo_writer_commit(demo_writer *w, char *msg, size_t cap)
{
    sqlite3_finalize(w->insert);
    w->insert = NULL;
    int rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        set_msg(msg, cap, "cannot write %s: %s", w->path, sqlite3_errmsg(w->db));
        demo_writer_abort(w);
        return DEMO_EIO;
    }
    sqlite3_close(w->db);
    w->db = NULL;
    /* synchronous=OFF skipped every fsync: one now, before the rename makes it visible */
    FILE *f = fopen(w->tmp_path, "rb");
    if (f) {
        (void)fsync(fileno(f));
        fclose(f);
    }
    if (rename(w->tmp_path, w->path) != 0) {
        set_msg(msg, cap, "cannot replace %s: %s", w->path, strerror(errno));
        demo_writer_abort(w);
        return DEMO_EIO;
    }
    free(w->tmp_path);
    free(w->path);
    memset(w, 0, sizeof *w);
    return DEMO_OK;
}

void demo_writer_abort(demo_writer *w)
{
    sqlite3_finalize(w->insert);
    sqlite3_close(w->db);
    if (w->tmp_path)
        unlink(w->tmp_path);
    free(w->tmp_path);
    free(w->path);
    memset(w, 0, sizeof *w);
}

/* ------------------------------------------------------------- generated values */

typedef struct name {
    const char *text;  /* as stored */
    const char *ascii; /* for e-mail addresses */
    char sex;          /* 'M', 'F': picks a fitting salutation */
} name;

static const name first_names[] = {
    {"James", "James", 'M'},       {"Michael", "Michael", 'M'}, {"Robert", "Robert", 'M'},
    {"David", "David", 'M'},       {"William", "William", 'M'}, {"Javier", "Javier", 'M'},
    {"José", "Jose", 'M'},         {"Luis", "Luis", 'M'},       {"Søren", "Soren", 'M'},
    {"Björn", "Bjorn", 'M'},       {"Łukasz", "Lukasz", 'M'},   {"Jürgen", "Jurgen", 'M'},
    {"Seán", "Sean", 'M'},         {"Raúl", "Raul", 'M'},       {"Kwame", "Kwame", 'M'},
    {"Hiroshi", "Hiroshi", 'M'},   {"Thomas", "Thomas", 'M'},   {"Charles", "Charles", 'M'},
    {"Mary", "Mary", 'F'},         {"Jennifer", "Jennifer", 'F'}, {"Linda", "Linda", 'F'},
    {"Latisha", "Latisha", 'F'},   {"Amy", "Amy", 'F'},         {"Zoë", "Zoe", 'F'},
    {"Chloé", "Chloe", 'F'},       {"Renée", "Renee", 'F'},     {"María", "Maria", 'F'},
    {"Åsa", "Asa", 'F'},           {"Małgorzata", "Malgorzata", 'F'}, {"Siobhán", "Siobhan", 'F'},
    {"Inés", "Ines", 'F'},         {"Aiko", "Aiko", 'F'},       {"Fatima", "Fatima", 'F'},
    {"Sarah", "Sarah", 'F'},       {"Emily", "Emily", 'F'},     {"Barbara", "Barbara", 'F'},
};

static const name last_names[] = {
    {"Smith", "Smith", 0},       {"Johnson", "Johnson", 0},   {"Williams", "Williams", 0},
    {"Brown", "Brown", 0},       {"Jones", "Jones", 0},       {"García", "Garcia", 0},
    {"Miller", "Miller", 0},     {"Davis", "Davis", 0},       {"Rodríguez", "Rodriguez", 0},
    {"Martínez", "Martinez", 0}, {"Hernández", "Hernandez", 0}, {"Lewis", "Lewis", 0},
    {"O'Brien", "OBrien", 0},    {"O'Connor", "OConnor", 0},  {"D'Angelo", "DAngelo", 0},
    {"Ñúñez", "Nunez", 0},       {"Müller", "Muller", 0},     {"Schröder", "Schroder", 0},
    {"Nguyễn", "Nguyen", 0},     {"Kowalski", "Kowalski", 0}, {"Dvořák", "Dvorak", 0},
    {"Lefèvre", "Lefevre", 0},   {"Brontë", "Bronte", 0},     {"Ó Súilleabháin", "OSuilleabhain", 0},
    {"McDonald", "McDonald", 0}, {"Walker", "Walker", 0},     {"Young", "Young", 0},
    {"Nakamura", "Nakamura", 0}, {"Okafor", "Okafor", 0},     {"Peña", "Pena", 0},
    {"Çelik", "Celik", 0},       {"Ødegård", "Odegard", 0},   {"Wright", "Wright", 0},
    {"Scott", "Scott", 0},       {"King", "King", 0},         {"Allen", "Allen", 0},
};

static const char *const salutations_m[] = {"Mr.", "Mr.", "Mr.", "Sir", "Dr."};
static const char *const salutations_f[] = {"Mrs.", "Ms.", "Miss", "Ms.", "Dr."};

static const char *const countries[] = {
    "UNITED STATES", "UNITED STATES", "UNITED STATES", "CANADA", "MEXICO", "CHILE",
    "GERMANY", "FRANCE", "SPAIN", "IRELAND", "NORWAY", "ICELAND", "POLAND", "JAPAN",
    "NIGERIA", "GHANA", "CÔTE D'IVOIRE", "RÉUNION", "SÃO TOMÉ AND PRÍNCIPE", "TÜRKIYE",
};

static const char *const domains[] = {
    "example.com", "mailhost.com", "postbox.com", "inbox.com", "webmail.com", "netpost.com",
};

#define PICK(arr, r) (arr[(r) % (sizeof arr / sizeof arr[0])])

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* TPC-DS business keys: the id as 16 base-16 digits A..P, each 32-bit half least significant
 * digit first, high half first: 1 -> AAAAAAAABAAAAAAA. */
static void business_key(uint64_t id, char out[17])
{
    static const char xlate[] = "ABCDEFGHIJKLMNOP";
    uint32_t hi = (uint32_t)(id >> 32), lo = (uint32_t)id;
    for (int i = 0; i < 8; i++, hi >>= 4)
        out[i] = xlate[hi & 15];
    for (int i = 0; i < 8; i++, lo >>= 4)
        out[8 + i] = xlate[lo & 15];
    out[16] = '\0';
}

static int days_in_month(int m, int y)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

/* SQLite NULL for about one value in 30 of a nullable column, as in the TPC-DS data. */
#define SOMETIMES_NULL(r) ((r) % 30 == 0)

static int bind_maybe_int(sqlite3_stmt *st, int col, uint64_t *s, int64_t lo, int64_t span)
{
    uint64_t r = splitmix64(s);
    if (SOMETIMES_NULL(r >> 40))
        return sqlite3_bind_null(st, col);
    return sqlite3_bind_int64(st, col, lo + (int64_t)(r % (uint64_t)span));
}

static int insert_generated(sqlite3_stmt *st, int64_t id)
{
    uint64_t s = (uint64_t)id * UINT64_C(0xD1B54A32D192ED03) ^ UINT64_C(0x5EED0F0C05707E55);
    char key[17], email[96], review[16];
    int rc = SQLITE_OK;
    business_key((uint64_t)id, key);
    rc |= sqlite3_bind_int64(st, 1, id);
    rc |= sqlite3_bind_text(st, 2, key, 16, SQLITE_STATIC);
    rc |= bind_maybe_int(st, 3, &s, 1, 1920800);
    rc |= bind_maybe_int(st, 4, &s, 1, 7200);
    rc |= bind_maybe_int(st, 5, &s, 1, 32500000);
    uint64_t r = splitmix64(&s);
    int64_t shipto = 2449028 + (int64_t)(r % 3650); /* 1993 .. 2002 */
    rc |= SOMETIMES_NULL(r >> 40) ? sqlite3_bind_null(st, 6) : sqlite3_bind_int64(st, 6, shipto);
    rc |= SOMETIMES_NULL(r >> 48) ? sqlite3_bind_null(st, 7)
                                  : sqlite3_bind_int64(st, 7, shipto - 30);
    const name *first = &PICK(first_names, splitmix64(&s));
    const name *last = &PICK(last_names, splitmix64(&s));
    r = splitmix64(&s);
    const char *sal = first->sex == 'M' ? PICK(salutations_m, r) : PICK(salutations_f, r);
    rc |= SOMETIMES_NULL(r >> 40) ? sqlite3_bind_null(st, 8)
                                  : sqlite3_bind_text(st, 8, sal, -1, SQLITE_STATIC);
    r = splitmix64(&s);
    rc |= SOMETIMES_NULL(r >> 40) ? sqlite3_bind_null(st, 9)
                                  : sqlite3_bind_text(st, 9, first->text, -1, SQLITE_STATIC);
    rc |= SOMETIMES_NULL(r >> 48) ? sqlite3_bind_null(st, 10)
                                  : sqlite3_bind_text(st, 10, last->text, -1, SQLITE_STATIC);
    r = splitmix64(&s);
    rc |= SOMETIMES_NULL(r >> 40) ? sqlite3_bind_null(st, 11)
                                  : sqlite3_bind_text(st, 11, (r & 1) ? "Y" : "N", 1,
                                                      SQLITE_STATIC);
    r = splitmix64(&s);
    int year = 1924 + (int)(r % 69), month = 1 + (int)((r >> 16) % 12);
    int day = 1 + (int)((r >> 32) % (uint64_t)days_in_month(month, year));
    bool no_birth = SOMETIMES_NULL(r >> 48);
    rc |= no_birth ? sqlite3_bind_null(st, 12) : sqlite3_bind_int(st, 12, day);
    rc |= no_birth ? sqlite3_bind_null(st, 13) : sqlite3_bind_int(st, 13, month);
    rc |= no_birth ? sqlite3_bind_null(st, 14) : sqlite3_bind_int(st, 14, year);
    r = splitmix64(&s);
    rc |= SOMETIMES_NULL(r >> 40) ? sqlite3_bind_null(st, 15)
                                  : sqlite3_bind_text(st, 15, PICK(countries, r), -1,
                                                      SQLITE_STATIC);
    /* C_LOGIN is NULL in every TPC-DS row. The draw that once made a few logins stays, so every
     * other value of a customer is what earlier demo databases held. */
    (void)splitmix64(&s);
    rc |= sqlite3_bind_null(st, 16);
    r = splitmix64(&s);
    if (SOMETIMES_NULL(r >> 40)) {
        rc |= sqlite3_bind_null(st, 17);
    } else {
        snprintf(email, sizeof email, "%s.%s@%s", first->ascii, last->ascii, PICK(domains, r));
        rc |= sqlite3_bind_text(st, 17, email, -1, SQLITE_STATIC);
    }
    r = splitmix64(&s);
    if (SOMETIMES_NULL(r >> 40)) {
        rc |= sqlite3_bind_null(st, 18);
    } else {
        /* TPC-DS writes this date as its Julian day number in text ("2452508"), not as a date */
        snprintf(review, sizeof review, "%" PRId64, 2452275 + (int64_t)(r % 730)); /* 2002, 2003 */
        rc |= sqlite3_bind_text(st, 18, review, -1, SQLITE_STATIC);
    }
    if (rc != SQLITE_OK)
        return SQLITE_ERROR;
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

demo_rc demo_db_generate(const char *path, int64_t rows, char *msg, size_t cap)
{
    demo_writer w;
    demo_rc drc = demo_writer_begin(&w, path, msg, cap);
    if (drc != DEMO_OK)
        return drc;
    for (int64_t id = 1; id <= rows; id++) {
        if (insert_generated(w.insert, id) != SQLITE_OK) {
            set_msg(msg, cap, "cannot write %s: %s", path, sqlite3_errmsg(w.db));
            demo_writer_abort(&w);
            return DEMO_EIO;
        }
    }
    return demo_writer_commit(&w, msg, cap);
}
