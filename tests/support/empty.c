/* Keeps the test-support library non-empty. */
typedef int cdp_test_support_empty;
