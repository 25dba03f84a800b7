// A C++ program built against an installed libpapi with `pkg-config papi`: the C headers must be
// usable from C++ as they are (extern "C", no C-only constructs), and RAII over them must work.
#include <papi/papi.h>
#include <papi/papi_backend.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

namespace {

struct config_deleter {
    void operator()(papi_config *c) const { papi_config_destroy(c); }
};
using config_ptr = std::unique_ptr<papi_config, config_deleter>;

int failures = 0;

void check(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "C++ consumer: check failed: %s\n", what);
        ++failures;
    }
}

} // namespace

int main()
{
    check(std::string(papi_version()) == PAPI_VERSION_STRING, "version matches header");
    check(PAPI_VERSION_NUMBER >= 100, "version number");
    check(std::strcmp(papi_status_name(PAPI_ETIMEDOUT), "ETIMEDOUT") == 0, "status name");

    papi_config *raw = nullptr;
    check(papi_config_create(&raw) == PAPI_OK && raw != nullptr, "config_create");
    config_ptr cfg(raw);
    papi_error err{};
    check(papi_config_set(cfg.get(), "cache-ttl", "60", &err) == PAPI_OK, "set cache-ttl");
    const char *ttl = papi_config_get(cfg.get(), "cache-ttl");
    check(ttl != nullptr && std::string(ttl) == "60", "get cache-ttl");
    check(papi_config_set(cfg.get(), "cache-ttl", "sixty", &err) == PAPI_ECONFIG, "bad cache-ttl");
    check(err.status == PAPI_ECONFIG && err.message[0] != '\0', "error detail filled");

    size_t keys = 0;
    for (size_t i = 0; i < papi_config_option_count(); ++i) {
        const char *env = nullptr;
        int secret = 0;
        if (papi_config_option_key(i, &env, &secret) != nullptr)
            ++keys;
    }
    check(keys == papi_config_option_count() && keys > 10, "option table");

    papi_blob *blob = papi_blob_create("{}", 2);
    check(blob != nullptr && papi_blob_len(blob) == 2, "blob");
    papi_blob_unref(blob);

    if (failures != 0)
        return 1;
    std::printf("C++ consumer: libpapi %s ok (%zu options)\n", papi_version(), keys);
    return 0;
}
