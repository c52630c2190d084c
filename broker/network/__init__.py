"""The network's public face: the directory of listed members, "What do you need?", and
what buyers send the network (messages for members, opportunities)."""
