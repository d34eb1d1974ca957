// The one source of selm_pch (CMakeLists.txt): the target exists to build the precompiled header
// that selm_core and the test suites reuse.
