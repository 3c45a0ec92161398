"""Access: one login, but a user may be allowed on one service and not on another.
Each service has a permission "may use this service", granted through an access group
(``service_access``: the permission, the gate every request passes, the 403 page). ``groups`` keeps
an access group from granting anything beyond its service, and ``permission_rows`` finds a
service's permissions missing from the shared schema.
"""
