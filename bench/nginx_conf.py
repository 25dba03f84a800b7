#!/usr/bin/python3
"""Writes the nginx configuration bench/run measures papi-httpd against.

  nginx_conf.py PORT DIR BODY_FILE HEADERS_FILE > DIR/nginx.conf

One worker, no access log, and papi-httpd's own answer (BODY_FILE, with the X-Cache,
Cache-Control, X-Content-Type-Options and X-Request-Id headers of HEADERS_FILE, as curl -D wrote
them) returned as a constant: both servers send the same bytes, and nginx adds its Server header.
"""
import sys

SAME_HEADERS = ("x-cache", "cache-control", "x-content-type-options", "x-request-id")


def quote(s):
    """An nginx string literal: quotes and backslashes escaped, '$' never read as a variable."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("$", "${dollar}") + "'"


def main():
    port, tmp, body_file, headers_file = sys.argv[1:5]
    body = open(body_file, encoding="utf-8").read()
    add = []
    for line in open(headers_file, encoding="latin-1"):
        name, _, value = line.strip().partition(":")
        if name.lower() in SAME_HEADERS:
            add.append("      add_header %s %s;" % (name, quote(value.strip())))
    print("""worker_processes 1;
daemon off;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/nginx.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %(tmp)s/nginx-body;
  proxy_temp_path %(tmp)s/nginx-proxy;
  fastcgi_temp_path %(tmp)s/nginx-fastcgi;
  uwsgi_temp_path %(tmp)s/nginx-uwsgi;
  scgi_temp_path %(tmp)s/nginx-scgi;
  geo $dollar { default "$"; }
  server {
    listen 127.0.0.1:%(port)s;
    location / {
      default_type "application/json; charset=utf-8";
%(add)s
      return 200 %(body)s;
    }
  }
}""" % {"tmp": tmp, "port": port, "add": "\n".join(add), "body": quote(body)})


if __name__ == "__main__":
    main()
