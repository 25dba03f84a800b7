// papi.hpp against the real library and a demo database made by `papi demo-db`.
// Usage: hpp_test DEMO_DB. Exit status 0 when every check passed, 1 otherwise.
#include <papi/papi.hpp>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

static int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static bool contains(std::string_view hay, std::string_view needle)
{
    return hay.find(needle) != std::string_view::npos;
}

// Runs f, which must throw papi::Error with status st; returns the detail ("" when it did not).
template <typename F> static std::string expect_error(F &&f, papi_status st, const char *what)
{
    try {
        f();
    } catch (const papi::Error &e) {
        if (e.status() != st) {
            std::fprintf(stderr, "%s: status %s, expected %s (%s)\n", what, e.name(),
                         papi_status_name(st), e.what());
            failures++;
        }
        CHECK(std::strcmp(e.name(), papi_status_name(st)) == 0);
        CHECK(contains(e.what(), e.name()));
        return e.detail();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s: unexpected exception %s\n", what, e.what());
        failures++;
        return "";
    }
    std::fprintf(stderr, "%s: no exception\n", what);
    failures++;
    return "";
}

static papi::Client make_client(const std::string &db)
{
    papi::Config cfg;
    cfg.set("source", "sqlite:" + db).set("cache", "memory").set("cache-ttl", 60);
    return papi::Client(cfg);
}

static void test_types()
{
    static_assert(!std::is_copy_constructible_v<papi::Client>, "Client is not copyable");
    static_assert(std::is_nothrow_move_constructible_v<papi::Client>, "Client moves");
    static_assert(!std::is_copy_constructible_v<papi::Result>, "Result is not copyable");
    static_assert(std::is_nothrow_move_assignable_v<papi::Result>, "Result moves");
    static_assert(!std::is_copy_assignable_v<papi::Config>, "Config is not copyable");
    CHECK(!papi::version().empty());
}

static void test_config(const std::string &db)
{
    papi::Config cfg;
    cfg.set("source", "sqlite:" + db);
    CHECK(cfg.get("source") == "sqlite:" + db);
    CHECK(!cfg.get("no-such-option").has_value());
    std::string d =
        expect_error([&] { cfg.set("no-such-option", "1"); }, PAPI_EINVAL, "unknown option");
    d = expect_error([&] { cfg.set("cache-ttl", "soon"); }, PAPI_ECONFIG, "bad cache-ttl");
    CHECK(contains(d, "cache-ttl"));
    // The config is copied into the client: destroying it first must not matter.
    papi::Client c = [&] {
        papi::Config tmp;
        tmp.set("source", "sqlite:" + db);
        return papi::Client(tmp);
    }();
    CHECK(c.lookup_customers({1}).size() == 1);
}

static void test_lookups(const std::string &db)
{
    papi::Client c = make_client(db);
    papi::Result r = c.lookup_customers({1885, 2});
    CHECK(r.size() == 2);
    CHECK(!r.empty());
    CHECK(r.outcome() == PAPI_OUTCOME_MISS);
    CHECK(contains(r[0], "\"C_CUSTOMER_SK\":1885"));
    CHECK(contains(r[1], "\"C_CUSTOMER_SK\":2"));
    CHECK(r[0].front() == '{' && r[0].back() == '}');
    std::string_view whole = r.json();
    CHECK(whole.front() == '[' && whole.back() == ']');
    CHECK(contains(whole, r[0]) && contains(whole, r[1]));

    // Iteration sees the same rows as indexing, in order.
    size_t i = 0;
    for (std::string_view row : r) {
        CHECK(i < r.size() && row == r[i]);
        i++;
    }
    CHECK(i == 2);
    std::vector<std::string> copied(r.begin(), r.end());
    CHECK(copied.size() == 2 && copied[1] == r[1]);

    papi::Result again = c.lookup_customers({1885, 2});
    CHECK(again.outcome() == PAPI_OUTCOME_HIT);
    CHECK(again.json() == r.json());

    papi::Result by_text = c.lookup("customer", {"2", "1885", "2"});
    CHECK(by_text.size() == 2); // a repeated id is answered once
    CHECK(by_text[0] == r[1] && by_text[1] == r[0]);

    papi::Result list = c.lookup_list("3,1,2");
    CHECK(list.size() == 3);
    CHECK(contains(list[0], "\"C_CUSTOMER_SK\":3"));
    CHECK(c.lookup_list("customer", "1885").size() == 1);

    // Column selection: the asked columns in the asked order, from the cached row.
    papi::Result cut = c.lookup("customer", {"2", "1885"}, {"c_last_name", "C_CUSTOMER_SK"});
    CHECK(cut.size() == 2 && cut.outcome() == PAPI_OUTCOME_HIT);
    CHECK(cut[1].substr(0, 15) == "{\"C_LAST_NAME\":" &&
          contains(cut[1], ",\"C_CUSTOMER_SK\":1885}"));
    papi::Result cut_list = c.lookup_list("customer", "1885", {"C_CUSTOMER_SK"});
    CHECK(cut_list.json() == "[{\"C_CUSTOMER_SK\":1885}]");

    papi::Result none = c.lookup_customers({999999999});
    CHECK(none.empty());
    CHECK(none.json() == "[]");
    CHECK(none.begin() == none.end());

    bool threw = false;
    try {
        (void)r[2];
    } catch (const std::out_of_range &) {
        threw = true;
    }
    CHECK(threw);

    // Moving keeps the rows; the moved-from result is empty.
    papi::Result moved = std::move(r);
    CHECK(moved.size() == 2);
    CHECK(r.size() == 0 && r.json() == "[]"); // NOLINT(bugprone-use-after-move)

    std::vector<std::string> ds = c.datasets();
    CHECK(!ds.empty() && ds[0] == "customer");
    c.ping();
    papi_stats s = c.stats();
    CHECK(s.lookups >= 6);
    CHECK(s.cache_hits >= 2);
}

static void test_errors(const std::string &db)
{
    papi::Client c = make_client(db);
    std::string d = expect_error([&] { c.lookup_list("1,12ab"); }, PAPI_EINVAL, "bad id");
    CHECK(contains(d, "12ab"));
    d = expect_error([&] { c.lookup("customer", {"7", "x;DROP"}); }, PAPI_EINVAL, "bad id 2");
    CHECK(contains(d, "x;DROP"));
    expect_error([&] { c.lookup_customers({}); }, PAPI_EINVAL, "empty list");
    expect_error([&] { c.lookup_customers({-5}); }, PAPI_EINVAL, "negative id");
    expect_error([&] { c.lookup_list(""); }, PAPI_EINVAL, "empty list text");
    expect_error([&] { c.lookup("no_such_dataset", {"1"}); }, PAPI_ENODATASET, "dataset");
    d = expect_error([&] { c.lookup_list("customer", "1", {"C_NOPE"}); }, PAPI_EINVAL,
                     "unknown column");
    CHECK(contains(d, "\"C_NOPE\""));
    expect_error(
        [&] {
            c.lookup("customer", {"1"}, {"C_LOGIN", "c_login"});
        },
        PAPI_EINVAL, "repeated column");

    papi::Config cfg;
    cfg.set("source", "sqlite:/nonexistent/dir/papi.db");
    try {
        papi::Client bad(cfg);
        // A lazily opened source may only fail on use.
        bad.ping();
        std::fprintf(stderr, "missing database: no exception\n");
        failures++;
    } catch (const papi::Error &e) {
        CHECK(e.status() != PAPI_OK);
        CHECK(e.detail()[0] != '\0');
    }

    papi::Client moved_to = std::move(c);
    CHECK(!c && moved_to);
    expect_error([&] { c.lookup_customers({1}); }, PAPI_EINVAL, "moved-from client");
    CHECK(moved_to.lookup_customers({1}).size() == 1);
}

static void test_threads(const std::string &db)
{
    papi::Client c = make_client(db);
    std::atomic<int> bad{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; t++) {
        ts.emplace_back([&c, &bad, t] {
            for (int i = 0; i < 200; i++) {
                int64_t id = 1 + (i * 7 + t) % 50;
                papi::Result r = c.lookup_customers({id});
                std::string want = "\"C_CUSTOMER_SK\":" + std::to_string(id) + ",";
                if (r.size() != 1 || !contains(r[0], want))
                    bad++;
            }
        });
    }
    for (std::thread &t : ts)
        t.join();
    CHECK(bad == 0);
    CHECK(c.stats().lookups == 800);
}

static void test_log(const std::string &db)
{
    // The log function outlives the Config it was set on (the client shares it), and receives
    // the SQLite transport's DEBUG line about the file it opened.
    std::atomic<int> lines{0};
    papi::Client c = [&] {
        papi::Config cfg;
        cfg.set("source", "sqlite:" + db);
        cfg.set_log(
            [&lines](papi_log_level, std::string_view msg) {
                if (contains(msg, "sqlite"))
                    lines++;
            },
            PAPI_LOG_DEBUG);
        return papi::Client(cfg);
    }();
    CHECK(c.lookup_customers({1}).size() == 1);
    CHECK(lines > 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DEMO_DB\n", argv[0]);
        return 2;
    }
    const std::string db = argv[1];
    try {
        test_types();
        test_config(db);
        test_lookups(db);
        test_errors(db);
        test_threads(db);
        test_log(db);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "unexpected exception: %s\n", e.what());
        return 1;
    }
    if (failures) {
        std::fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    std::puts("papi.hpp: all checks passed");
    return 0;
}
