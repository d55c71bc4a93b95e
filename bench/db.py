"""The benchmark's database, SQLite or PostgreSQL, named by its URL as DATABASE_URL names it.

    python3 bench/db.py exec URL SQL          # runs one statement
    python3 bench/db.py fresh SERVER_URL NAME # creates database NAME on that PostgreSQL server
                                              # (dropping any of that name); prints its URL

SQLite goes through Python's own sqlite3 module; PostgreSQL through psql.
"""
import sqlite3
import subprocess
import sys
import urllib.parse


def is_postgres(url):
    return url.startswith(("postgres://", "postgresql://"))


def sqlite_path(url):
    # sqlite://path or sqlite:path, as the app reads DATABASE_URL.
    rest = url[len("sqlite://"):] if url.startswith("sqlite://") else url[len("sqlite:"):]
    return rest.split("?", 1)[0]


def psql(url, sql):
    # On standard input: a statement may be longer than a command line may be.
    subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-X"],
        input=f"set client_min_messages = warning;\n{sql};\n", check=True, text=True,
        stdout=subprocess.DEVNULL,
    )


def execute(url, sql):
    if is_postgres(url):
        psql(url, sql)
    else:
        with sqlite3.connect(sqlite_path(url)) as connection:
            connection.execute(sql)


def fresh(server, name):
    psql(server, f"drop database if exists {name}")
    psql(server, f"create database {name}")
    parts = urllib.parse.urlsplit(server)
    # The server's parameters (sslmode, sslrootcert, host=…) apply to the new database too.
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "exec":
        execute(sys.argv[2], sys.argv[3])
    elif command == "fresh":
        print(fresh(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(f"unknown command {command}")
