// Default ASan options for the test executables that load backend plugins.
//
// LeakSanitizer in GCC <= 13 guesses the layout of dynamic TLS blocks from their address and,
// on glibc >= 2.25, misreads those of threads started by dlopen'ed libraries (oneDNN's OpenMP
// workers, here), then crashes at exit with "Tracer caught signal 11" after every test passed
// (google/sanitizers#1322). Not intercepting __tls_get_addr avoids it; ASAN_OPTIONS given in
// the environment still override these defaults.
extern "C" __attribute__((visibility("default"), used)) const char* __asan_default_options() {
  return "intercept_tls_get_addr=0";
}
