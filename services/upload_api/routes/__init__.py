"""One router per resource; create_app includes each of ROUTERS."""
