// Package enginetest runs spendgate's ClickHouse schema and queries on two
// engines: the ClickHouse server the other tests use (18.16 on the dev
// machines) and chDB, ClickHouse 26.x in-process, and wants the same
// answers from both. chDB needs libchdb.so (/usr/local/lib, or
// CHDB_LIB_PATH); .ci/run installs it. It lives in its own package because
// the chDB binding loads the library when the test binary starts.
package enginetest
