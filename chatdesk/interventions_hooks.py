"""Default intervention recorder until the rules module takes over: refuses nothing, stores nothing."""


def record(visitor, trigger, action):
    return None
