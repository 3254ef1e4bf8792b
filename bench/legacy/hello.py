"""The hello-world WSGI app of bench/legacy.sh."""


def application(environ, start_response):
    body = b"hello world\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
