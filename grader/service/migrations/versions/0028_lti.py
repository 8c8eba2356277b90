"""LTI 1.3: platforms, deployments, tool keys, used nonces, links, accounts, AGS scores

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0028'
down_revision: Union[str, Sequence[str], None] = '0027'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('lti_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('private_pem', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kid')
    )
    op.create_table('lti_platforms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('client_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('auth_url', sa.String(length=2048), nullable=False),
    sa.Column('token_url', sa.String(length=2048), nullable=False),
    sa.Column('jwks_url', sa.String(length=2048), nullable=False),
    sa.Column('token_audience', sa.String(length=2048), nullable=True),
    sa.Column('trust_instructors', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('issuer', 'client_id', name='uq_lti_platforms_issuer')
    )
    op.create_table('lti_deployments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform_id', 'deployment_id', name='uq_lti_deployments_platform')
    )
    op.create_table('lti_used_nonces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform_id', 'nonce', name='uq_lti_used_nonces')
    )
    with op.batch_alter_table('lti_used_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_used_nonces_expires_at'), ['expires_at'], unique=False)

    op.create_table('lti_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('sub', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('staff_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('context_id', sa.String(length=255), nullable=True),
    sa.Column('context_title', sa.String(length=255), nullable=True),
    sa.Column('requested_email', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform_id', 'sub', name='uq_lti_accounts_sub')
    )
    with op.batch_alter_table('lti_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_accounts_user_id'), ['user_id'], unique=False)

    op.create_table('lti_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('resource_link_id', sa.String(length=255), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=True),
    sa.Column('context_id', sa.String(length=255), nullable=True),
    sa.Column('context_title', sa.String(length=255), nullable=True),
    sa.Column('assignment_id', sa.Integer(), nullable=True),
    sa.Column('ags', sa.JSON(), nullable=True),
    sa.Column('lineitem_url', sa.String(length=2048), nullable=True),
    sa.Column('lineitem_lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform_id', 'deployment_id', 'resource_link_id', name='uq_lti_links_resource')
    )
    with op.batch_alter_table('lti_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_links_assignment_id'), ['assignment_id'], unique=False)

    op.create_table('lti_learners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sub', sa.String(length=255), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('last_timestamp', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ),
    sa.ForeignKeyConstraint(['link_id'], ['lti_links.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('link_id', 'user_id', name='uq_lti_learners_link_user')
    )
    with op.batch_alter_table('lti_learners', schema=None) as batch_op:
        batch_op.create_index('ix_lti_learners_user_assignment', ['user_id', 'assignment_id'], unique=False)

    op.create_table('lti_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'succeeded', 'failed', 'superseded', name='lti_score_status', native_enum=False, length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['learner_id'], ['lti_learners.id'], ),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lti_scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_scores_learner_id'), ['learner_id'], unique=False)
        batch_op.create_index('ix_lti_scores_status_next', ['status', 'next_attempt_at'], unique=False)

    op.create_table('lti_score_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('score_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('response_excerpt', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['score_id'], ['lti_scores.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lti_score_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_score_attempts_score_id'), ['score_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('lti_score_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_score_attempts_score_id'))

    op.drop_table('lti_score_attempts')
    with op.batch_alter_table('lti_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_lti_scores_status_next')
        batch_op.drop_index(batch_op.f('ix_lti_scores_learner_id'))

    op.drop_table('lti_scores')
    with op.batch_alter_table('lti_learners', schema=None) as batch_op:
        batch_op.drop_index('ix_lti_learners_user_assignment')

    op.drop_table('lti_learners')
    with op.batch_alter_table('lti_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_links_assignment_id'))

    op.drop_table('lti_links')
    with op.batch_alter_table('lti_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_accounts_user_id'))

    op.drop_table('lti_accounts')
    with op.batch_alter_table('lti_used_nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_used_nonces_expires_at'))

    op.drop_table('lti_used_nonces')
    op.drop_table('lti_deployments')
    op.drop_table('lti_platforms')
    op.drop_table('lti_keys')
