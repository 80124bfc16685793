// The lines between the parts (architecture.md §1), checked on every source file:
// core never includes a device API; plugins include only the sdk (and their own libraries);
// hosts include only core's public headers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
const fs::path kSource = HEARTH_TEST_SOURCE_DIR;

struct Include {
  fs::path file;
  int line;
  std::string target;
};

std::vector<Include> includes_under(const fs::path& dir) {
  static const std::regex include_line(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  std::vector<Include> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const auto ext = entry.path().extension().string();
    if (ext != ".h" && ext != ".hpp" && ext != ".cpp" && ext != ".cc" && ext != ".cu" &&
        ext != ".cuh" && ext != ".hip")
      continue;
    std::ifstream in(entry.path());
    std::string text;
    int line = 0;
    std::smatch m;
    while (std::getline(in, text)) {
      ++line;
      if (std::regex_search(text, m, include_line)) out.push_back({entry.path(), line, m[1]});
    }
  }
  return out;
}

bool is_device_api(const std::string& header) {
  static const std::regex device(
      R"(^(cuda|cublas|cusparse|curand|cudnn|nvrtc|cub/|thrust/|hip/|hipblas|rocblas|rocm|dnnl|oneapi/|mkl))");
  return std::regex_search(header, device) || header.find("cuda_") == 0;
}

TEST(Boundary, CoreIncludesNoDeviceApiHeader) {
  for (const auto& inc : includes_under(kSource / "core"))
    EXPECT_FALSE(is_device_api(inc.target))
        << inc.file.string() << ":" << inc.line << " includes <" << inc.target
        << ">; core must not know any device API (architecture.md §1)";
}

TEST(Boundary, PluginsIncludeOnlyTheSdkOfHearth) {
  for (const auto& inc : includes_under(kSource / "plugins")) {
    const bool hearth_header = inc.target.rfind("hearth/", 0) == 0;
    EXPECT_TRUE(!hearth_header || inc.target.rfind("hearth/sdk/", 0) == 0)
        << inc.file.string() << ":" << inc.line << " includes <" << inc.target
        << ">; plugins may include only hearth/sdk/*";
  }
}

TEST(Boundary, HostsIncludeOnlyCorePublicHeaders) {
  for (const auto& inc : includes_under(kSource / "hosts")) {
    const bool core_private = inc.target.find("core/src") != std::string::npos ||
                              inc.target.rfind("registry/", 0) == 0 ||
                              inc.target.find("plugins/") != std::string::npos;
    EXPECT_FALSE(core_private || is_device_api(inc.target))
        << inc.file.string() << ":" << inc.line << " includes <" << inc.target
        << ">; hosts use only core's public headers (core/include/hearth)";
  }
}

}  // namespace
