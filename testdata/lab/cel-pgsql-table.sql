-- The cel table cel_pgsql writes into (PostgreSQL). Columns are the CEL field names cel_pgsql
-- knows (configs/samples/cel_pgsql.conf.sample); cel_pgsql reads the table's columns at load and
-- fills those it knows by name: eventtime as text unless the column is int (epoch seconds) or
-- float (epoch with microseconds); a timestamp column gets 'YYYY-MM-DD HH:MM:SS.ffffff' in the
-- server's local time (usegmtime=no, the default) or UTC (usegmtime=yes). It does not truncate:
-- a value longer than its column makes the INSERT fail and the row is lost, so appdata and extra
-- are wide here.
CREATE TABLE cel (
    id          serial       PRIMARY KEY,
    eventtype   varchar(30)  NOT NULL,
    eventtime   timestamp    NOT NULL,
    userdeftype varchar(255) NOT NULL,
    cid_name    varchar(80)  NOT NULL,
    cid_num     varchar(80)  NOT NULL,
    cid_ani     varchar(80)  NOT NULL,
    cid_rdnis   varchar(80)  NOT NULL,
    cid_dnid    varchar(80)  NOT NULL,
    exten       varchar(80)  NOT NULL,
    context     varchar(80)  NOT NULL,
    channame    varchar(80)  NOT NULL,
    appname     varchar(80)  NOT NULL,
    appdata     varchar(512) NOT NULL,
    amaflags    integer      NOT NULL,
    accountcode varchar(80)  NOT NULL,
    peeraccount varchar(80)  NOT NULL,
    uniqueid    varchar(150) NOT NULL,
    linkedid    varchar(150) NOT NULL,
    userfield   varchar(255) NOT NULL,
    peer        varchar(80)  NOT NULL,
    extra       varchar(1024) NOT NULL
);
CREATE INDEX cel_linkedid ON cel (linkedid);
CREATE INDEX cel_eventtime ON cel (eventtime);
