/**
 * @file papi.hpp
 * @brief Header-only C++17 wrapper of libpapi (papi.h): owning handles, exceptions, row iteration.
 *
 * @code
 * papi::Config cfg;
 * cfg.load_env().set("source", "sqlite:/tmp/demo.db").set("cache-ttl", 60);
 * papi::Client client(cfg);
 * papi::Result r = client.lookup_customers({1885, 2});
 * for (std::string_view row : r)
 *     std::cout << row << '\n';
 * @endcode
 *
 * Every failing call throws papi::Error carrying the ::papi_status, its name and the detail the
 * library wrote into a ::papi_error. Thread safety follows papi.h: a papi::Client may be used by
 * many threads at once (lookups, ping, stats); Config and Result are object-confined; moving or
 * destroying an object is exclusive.
 */
#ifndef PAPI_HPP
#define PAPI_HPP

#include <papi/papi.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace papi
{

/** @brief A failed libpapi call: the status, its stable name and the library's detail. */
class Error : public std::runtime_error
{
  public:
    /** @brief Wraps @p err (its status must not be PAPI_OK). */
    explicit Error(const papi_error &err) : std::runtime_error(describe(err)), err_(err) {}

    /** @brief The ::papi_status the call returned. */
    papi_status status() const noexcept
    {
        return err_.status;
    }
    /** @brief The status's stable token, e.g. "EINVAL". Static storage. */
    const char *name() const noexcept
    {
        return papi_status_name(err_.status);
    }
    /** @brief The library's sentence about this failure; may be empty. */
    const char *detail() const noexcept
    {
        return err_.message;
    }
    /** @brief HTTP status from the source, 0 when none. */
    int32_t http_status() const noexcept
    {
        return err_.http_status;
    }
    /** @brief The source's Retry-After in seconds, 0 when none. */
    int32_t retry_after_s() const noexcept
    {
        return err_.retry_after_s;
    }
    /** @brief The source's error code, "" when none. */
    const char *source_code() const noexcept
    {
        return err_.source_code;
    }
    /** @brief The source's SQL state, "" when none. */
    const char *sql_state() const noexcept
    {
        return err_.sql_state;
    }
    /** @brief The source's id of the failed statement, "" when none. */
    const char *query_id() const noexcept
    {
        return err_.query_id;
    }
    /** @brief The whole ::papi_error. */
    const papi_error &raw() const noexcept
    {
        return err_;
    }

  private:
    static std::string describe(const papi_error &e)
    {
        std::string s = papi_status_name(e.status);
        s += ": ";
        s += e.message[0] ? e.message : papi_strerror(e.status);
        return s;
    }

    papi_error err_;
};

namespace detail
{

/* A status-only failure (no papi_error was filled) still carries a sentence. */
inline void check(papi_status st, papi_error &err)
{
    if (st == PAPI_OK)
        return;
    err.status = st;
    throw Error(err);
}

inline papi_error fresh_error() noexcept
{
    papi_error e{};
    return e;
}

/* Holds the user's log function; shared by the Config and every Client made from it, because
 * the library keeps the pointer it was given for as long as those clients live. */
struct LogSink {
    std::function<void(papi_log_level, std::string_view)> fn;

    static void trampoline(void *user, papi_log_level level, const char *message) noexcept
    {
        try {
            static_cast<LogSink *>(user)->fn(level, message ? message : "");
        } catch (...) {
            /* An exception must not unwind through the library's C frames. */
        }
    }
};

} // namespace detail

/** @brief The library's version, e.g. "0.1.0". Thread-safe. */
inline std::string_view version() noexcept
{
    return papi_version();
}

/** @brief Options for a Client (papi_config). Movable, not copyable; object-confined. */
class Config
{
  public:
    /** @brief Every option at its default. @throws Error (ENOMEM) */
    Config()
    {
        papi_error err = detail::fresh_error();
        detail::check(papi_config_create(&cfg_), err);
    }
    ~Config()
    {
        papi_config_destroy(cfg_);
    }

    /** @brief Takes over @p o's options; @p o is left empty. */
    Config(Config &&o) noexcept : cfg_(std::exchange(o.cfg_, nullptr)), log_(std::move(o.log_)) {}
    /** @brief Frees this configuration and takes over @p o's. */
    Config &operator=(Config &&o) noexcept
    {
        if (this != &o) {
            papi_config_destroy(cfg_);
            cfg_ = std::exchange(o.cfg_, nullptr);
            log_ = std::move(o.log_);
        }
        return *this;
    }
    Config(const Config &) = delete;
    Config &operator=(const Config &) = delete;

    /** @brief Reads PAPI_* and SNOWFLAKE_* variables; call before set() so that set() wins.
     *  @throws Error (ECONFIG naming the variable) */
    Config &load_env()
    {
        papi_error err = detail::fresh_error();
        detail::check(papi_config_load_env(cfg_, &err), err);
        return *this;
    }

    /** @brief Sets option @p key ("source", "cache-ttl", ...) to @p value.
     *  @throws Error (EINVAL unknown key, ECONFIG bad value) */
    Config &set(std::string_view key, std::string_view value)
    {
        papi_error err = detail::fresh_error();
        const std::string k(key), v(value);
        detail::check(papi_config_set(cfg_, k.c_str(), v.c_str(), &err), err);
        return *this;
    }
    /** @brief Same, for a C string value. */
    Config &set(std::string_view key, const char *value)
    {
        return set(key, std::string_view(value ? value : ""));
    }
    /** @brief Same, for a number (e.g. set("cache-ttl", 60)). */
    template <typename T,
              typename = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
    Config &set(std::string_view key, T value)
    {
        return set(key, std::string_view(std::to_string(value)));
    }

    /** @brief Option @p key as text; nullopt for an unknown key or an unset option. */
    std::optional<std::string> get(std::string_view key) const
    {
        const char *v = papi_config_get(cfg_, std::string(key).c_str());
        return v ? std::optional<std::string>(v) : std::nullopt;
    }

    /** @brief Sends the library's log lines (up to @p max_level) to @p fn, which may be called
     *  from any thread using a Client made from this Config. @throws Error */
    Config &set_log(std::function<void(papi_log_level, std::string_view)> fn,
                    papi_log_level max_level = PAPI_LOG_INFO)
    {
        auto sink = std::make_shared<detail::LogSink>();
        sink->fn = std::move(fn);
        papi_error err = detail::fresh_error();
        detail::check(
            papi_config_set_log(cfg_, &detail::LogSink::trampoline, sink.get(), max_level), err);
        log_ = std::move(sink);
        return *this;
    }

    /** @brief The C handle, still owned by this object. */
    papi_config *native_handle() const noexcept
    {
        return cfg_;
    }

  private:
    friend class Client;
    papi_config *cfg_ = nullptr;
    std::shared_ptr<detail::LogSink> log_;
};

/** @brief The answer to one lookup (papi_result): rows as JSON in the order the ids were asked.
 *  Movable, not copyable; object-confined. Row views are valid while the Result lives. */
class Result
{
  public:
    /** @brief Iterates over the rows, each a std::string_view of one JSON object. */
    class iterator
    {
      public:
        using iterator_category = std::input_iterator_tag; /**< Single pass is all it promises. */
        using value_type = std::string_view;               /**< One row's JSON. */
        using difference_type = std::ptrdiff_t;            /**< Distance between rows. */
        using pointer = const std::string_view *;          /**< Unused; rows are values. */
        using reference = std::string_view;                /**< Rows are returned by value. */

        /** @brief A singular iterator. */
        iterator() = default;
        /** @brief The current row's JSON, valid while the Result lives. */
        std::string_view operator*() const
        {
            return Result::row_of(r_, i_);
        }
        /** @brief Moves to the next row. */
        iterator &operator++()
        {
            ++i_;
            return *this;
        }
        /** @brief Moves to the next row, returning the previous position. */
        iterator operator++(int)
        {
            iterator t = *this;
            ++i_;
            return t;
        }
        /** @brief Same result, same row. */
        bool operator==(const iterator &o) const
        {
            return r_ == o.r_ && i_ == o.i_;
        }
        /** @brief Not operator==. */
        bool operator!=(const iterator &o) const
        {
            return !(*this == o);
        }

      private:
        friend class Result;
        iterator(const papi_result *r, size_t i) : r_(r), i_(i) {}
        const papi_result *r_ = nullptr;
        size_t i_ = 0;
    };

    /** @brief Takes ownership of @p r (may be NULL: an empty result). */
    explicit Result(papi_result *r = nullptr) noexcept : r_(r) {}
    ~Result()
    {
        papi_result_free(r_);
    }
    /** @brief Takes over @p o's rows; @p o is left empty. */
    Result(Result &&o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    /** @brief Frees this result and takes over @p o's rows. */
    Result &operator=(Result &&o) noexcept
    {
        if (this != &o) {
            papi_result_free(r_);
            r_ = std::exchange(o.r_, nullptr);
        }
        return *this;
    }
    Result(const Result &) = delete;
    Result &operator=(const Result &) = delete;

    /** @brief Number of rows found. */
    size_t size() const noexcept
    {
        return r_ ? papi_result_count(r_) : 0;
    }
    /** @brief True when no id was found. */
    bool empty() const noexcept
    {
        return size() == 0;
    }
    /** @brief Row @p i as JSON. @throws std::out_of_range */
    std::string_view operator[](size_t i) const
    {
        if (i >= size())
            throw std::out_of_range("papi::Result: row index out of range");
        return row_of(r_, i);
    }
    /** @brief The first row. */
    iterator begin() const noexcept
    {
        return iterator(r_, 0);
    }
    /** @brief Past the last row. */
    iterator end() const noexcept
    {
        return iterator(r_, size());
    }

    /** @brief The whole answer, a JSON array ("[]" when empty). */
    std::string_view json() const noexcept
    {
        if (!r_)
            return "[]";
        size_t len = 0;
        const char *p = papi_result_json(r_, &len);
        return std::string_view(p ? p : "[]", p ? len : 2);
    }
    /** @brief Whether the rows came from a cache (HIT), the source (MISS) or a stale copy. */
    papi_cache_outcome outcome() const noexcept
    {
        return r_ ? papi_result_outcome(r_) : PAPI_OUTCOME_MISS;
    }
    /** @brief The C handle, still owned by this object. */
    papi_result *native_handle() const noexcept
    {
        return r_;
    }
    /** @brief Gives up ownership of the C handle. */
    papi_result *release() noexcept
    {
        return std::exchange(r_, nullptr);
    }

  private:
    static std::string_view row_of(const papi_result *r, size_t i)
    {
        size_t len = 0;
        const char *p = r ? papi_result_row_json(r, i, &len) : nullptr;
        return p ? std::string_view(p, len) : std::string_view();
    }

    papi_result *r_ = nullptr;
};

/** @brief A lookup client (papi_client) bound to one source and its caches. Movable, not
 *  copyable. Lookups, ping(), datasets() and stats() are thread-safe; construction, moving and
 *  destruction are exclusive (no lookup may be running). */
class Client
{
  public:
    /** @brief Creates a client from @p cfg (copied; @p cfg may die first).
     *  @throws Error (ECONFIG, EIO, ENOMEM, EINVAL) */
    explicit Client(const Config &cfg) : log_(cfg.log_)
    {
        papi_error err = detail::fresh_error();
        detail::check(papi_client_create(cfg.cfg_, &c_, &err), err);
    }
    /** @brief A client configured by the environment only (PAPI_*, SNOWFLAKE_*). */
    static Client from_env()
    {
        Config cfg;
        cfg.load_env();
        return Client(cfg);
    }
    ~Client()
    {
        papi_client_destroy(c_);
    }
    /** @brief Takes over @p o's client; @p o is left empty (operator bool is false). */
    Client(Client &&o) noexcept : c_(std::exchange(o.c_, nullptr)), log_(std::move(o.log_)) {}
    /** @brief Destroys this client and takes over @p o's. */
    Client &operator=(Client &&o) noexcept
    {
        if (this != &o) {
            papi_client_destroy(c_);
            c_ = std::exchange(o.c_, nullptr);
            log_ = std::move(o.log_);
        }
        return *this;
    }
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;

    /** @brief False after being moved from. */
    explicit operator bool() const noexcept
    {
        return c_ != nullptr;
    }

    /** @brief Rows of @p dataset for @p ids (copied). @throws Error (EINVAL naming the bad id,
     *  ENODATASET, source failures) */
    Result lookup(std::string_view dataset, const std::vector<std::string> &ids)
    {
        std::vector<const char *> ptrs;
        ptrs.reserve(ids.size());
        for (const std::string &id : ids)
            ptrs.push_back(id.c_str());
        const std::string ds(dataset);
        papi_error err = detail::fresh_error();
        papi_result *r = nullptr;
        detail::check(papi_lookup(handle(), ds.c_str(), ptrs.data(), ptrs.size(), &r, &err), err);
        return Result(r);
    }

    /** @brief Customers by C_CUSTOMER_SK. @throws Error */
    Result lookup_customers(const std::vector<int64_t> &ids)
    {
        papi_error err = detail::fresh_error();
        papi_result *r = nullptr;
        detail::check(papi_lookup_customers(handle(), ids.data(), ids.size(), &r, &err), err);
        return Result(r);
    }

    /** @brief Rows of @p dataset for a comma-separated @p list ("1885" or "1,2,3").
     *  @throws Error */
    Result lookup_list(std::string_view dataset, std::string_view list)
    {
        const std::string ds(dataset);
        papi_error err = detail::fresh_error();
        papi_result *r = nullptr;
        detail::check(papi_lookup_list(handle(), ds.c_str(), list.data(), list.size(), &r, &err),
                      err);
        return Result(r);
    }

    /** @brief Customers for a comma-separated @p list. @throws Error */
    Result lookup_list(std::string_view list)
    {
        return lookup_list("customer", list);
    }

    /** @brief Rows of @p dataset for @p ids with only the @p select columns, in that order
     *  (names matched case-insensitively; papi_lookup_opts()). @throws Error (EINVAL naming an
     *  unknown or repeated column) */
    Result lookup(std::string_view dataset, const std::vector<std::string> &ids,
                  const std::vector<std::string> &select)
    {
        std::vector<const char *> ptrs, names;
        ptrs.reserve(ids.size());
        for (const std::string &id : ids)
            ptrs.push_back(id.c_str());
        const papi_lookup_options opts = options(select, names);
        const std::string ds(dataset);
        papi_error err = detail::fresh_error();
        papi_result *r = nullptr;
        detail::check(
            papi_lookup_opts(handle(), ds.c_str(), ptrs.data(), ptrs.size(), &opts, &r, &err), err);
        return Result(r);
    }

    /** @brief Rows of @p dataset for a comma-separated @p list with only the @p select columns,
     *  in that order (papi_lookup_list_opts()). @throws Error */
    Result lookup_list(std::string_view dataset, std::string_view list,
                       const std::vector<std::string> &select)
    {
        std::vector<const char *> names;
        const papi_lookup_options opts = options(select, names);
        const std::string ds(dataset);
        papi_error err = detail::fresh_error();
        papi_result *r = nullptr;
        detail::check(
            papi_lookup_list_opts(handle(), ds.c_str(), list.data(), list.size(), &opts, &r, &err),
            err);
        return Result(r);
    }

    /** @brief Checks that the source answers. @throws Error (the source's failure) */
    void ping()
    {
        papi_error err = detail::fresh_error();
        detail::check(papi_client_ping(handle(), &err), err);
    }

    /** @brief Names of the datasets served ("customer" among them). */
    std::vector<std::string> datasets() const
    {
        std::vector<std::string> out;
        const size_t n = papi_client_dataset_count(handle());
        for (size_t i = 0; i < n; i++) {
            const char *name = papi_client_dataset_name(handle(), i);
            if (name)
                out.emplace_back(name);
        }
        return out;
    }

    /** @brief The client's counters. @throws Error */
    papi_stats stats() const
    {
        papi_stats s{};
        s.struct_size = sizeof s;
        papi_error err = detail::fresh_error();
        detail::check(papi_client_stats(handle(), &s), err);
        return s;
    }

    /** @brief The C handle, still owned by this object. */
    papi_client *native_handle() const noexcept
    {
        return c_;
    }

  private:
    /* select as the library takes it; names holds the pointers while the call runs */
    static papi_lookup_options options(const std::vector<std::string> &select,
                                       std::vector<const char *> &names)
    {
        names.reserve(select.size());
        for (const std::string &n : select)
            names.push_back(n.c_str());
        papi_lookup_options o{};
        o.struct_size = sizeof o;
        o.select = names.data();
        o.nselect = names.size();
        return o;
    }

    papi_client *handle() const
    {
        if (!c_) {
            papi_error err = detail::fresh_error();
            fill_moved(err);
            throw Error(err);
        }
        return c_;
    }

    static void fill_moved(papi_error &err) noexcept
    {
        static const char msg[] = "papi::Client used after being moved from";
        err.status = PAPI_EINVAL;
        static_assert(sizeof msg <= sizeof err.message, "message fits");
        for (size_t i = 0; i < sizeof msg; i++)
            err.message[i] = msg[i];
    }

    papi_client *c_ = nullptr;
    std::shared_ptr<detail::LogSink> log_;
};

} // namespace papi

#endif /* PAPI_HPP */
