// Looks rows up with papi.hpp (header-only C++17 wrapper of libpapi) and prints each as one line
// of JSON, then a summary line. Same behaviour and output as examples/c/lookup.c.
//
//   c++ -std=c++17 -o lookup lookup.cpp $(pkg-config --cflags --libs papi)
//   PAPI_SOURCE=sqlite:/tmp/demo.db ./lookup 1885 2
#include <papi/papi.hpp>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char **argv)
{
    std::string dataset = "customer";
    int first = 1;
    if (argc > 2 && std::strcmp(argv[1], "--dataset") == 0) {
        dataset = argv[2];
        first = 3;
    }
    if (first >= argc) {
        std::cerr << "usage: " << argv[0] << " [--dataset NAME] ID...\n";
        return 2;
    }
    const std::vector<std::string> ids(argv + first, argv + argc);
    try {
        papi::Client client = papi::Client::from_env(); // PAPI_SOURCE, PAPI_CACHE, SNOWFLAKE_*
        papi::Result rows = client.lookup(dataset, ids);
        for (std::string_view row : rows)
            std::cout << row << '\n';
        std::cout << "# " << rows.size() << " of " << ids.size() << " ids found\n";
    } catch (const papi::Error &e) {
        std::cerr << "lookup: " << e.what() << '\n';
        return e.status() == PAPI_EINVAL || e.status() == PAPI_ENODATASET ? 2 : 1;
    }
    return 0;
}
