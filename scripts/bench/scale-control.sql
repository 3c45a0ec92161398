-- ./stack bench --scale, the control's database: the same 10,000 users and 1,000,000 sessions
-- in Django's own tables (auth_user, django_session).
INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
SELECT '!', false, format('scale-%s', lpad(n::text, 5, '0')), '', '', '', false, true, now()
  FROM generate_series(1, 10000) AS n
    ON CONFLICT (username) DO NOTHING;
INSERT INTO django_session (session_key, session_data, expire_date)
SELECT format('scale%s', lpad(n::text, 27, '0')), 'e30:scale', now() + interval '30 days'
  FROM generate_series(1, 1000000) AS n
    ON CONFLICT (session_key) DO NOTHING;
ANALYZE auth_user, django_session;
