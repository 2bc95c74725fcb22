-- table.sql: build, index and query a table in sqlite3 for the preload test.
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO t SELECT i, 'name-' || (i * 7919 % 100003), i % 97, zeroblob(i % 300) FROM n;
CREATE INDEX t_name ON t(name);
CREATE INDEX t_grp ON t(grp, name);
SELECT count(*), sum(length(payload)), count(DISTINCT name) FROM t;
SELECT grp, count(*), min(name), max(name) FROM t GROUP BY grp ORDER BY grp LIMIT 5;
SELECT name, id FROM t WHERE name BETWEEN 'name-5000' AND 'name-5010' ORDER BY name, id;
DELETE FROM t WHERE id % 3 = 0;
UPDATE t SET payload = zeroblob(500) WHERE id % 10 = 1;
SELECT count(*), sum(length(payload)) FROM t;
VACUUM;
SELECT grp, group_concat(id, ',') FROM (SELECT grp, id FROM t WHERE id < 400 ORDER BY id) GROUP BY grp ORDER BY grp LIMIT 3;
