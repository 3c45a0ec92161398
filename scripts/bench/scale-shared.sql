-- ./stack bench --scale, the shared schema (search_path shared): 10,000 users and 1,000,000 live sessions of theirs.
-- Once: users named scale-00001 ... and sessions keyed scale... are left out when already there.
-- The sessions carry no valid signature: nobody can use them, they only fill the table and its indexes.
INSERT INTO sso_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
SELECT gen_random_uuid(), '!', false, format('scale-%s', lpad(n::text, 5, '0')), '', '', '', false, true, now()
  FROM generate_series(1, 10000) AS n
    ON CONFLICT (username) DO NOTHING;
INSERT INTO sso_user_groups (user_id, group_id)
SELECT u.id, g.id FROM sso_user u, auth_group g
 WHERE u.username LIKE 'scale-%' AND g.name LIKE 'Access to %'
    ON CONFLICT DO NOTHING;
INSERT INTO sso_session (session_key, session_data, expire_date, user_id)
SELECT format('scale%s', lpad(n::text, 27, '0')), 'e30:scale', now() + interval '30 days', u.id::text
  FROM generate_series(1, 1000000) AS n
  JOIN (SELECT id, row_number() OVER (ORDER BY username) AS i FROM sso_user WHERE username LIKE 'scale-%') u
    ON u.i = 1 + n % 10000
    ON CONFLICT (session_key) DO NOTHING;
ANALYZE sso_user, sso_user_groups, sso_session;
